"""Aurora PostgreSQL Serverless v2 for Hydra's state."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Validations, aws_ec2 as ec2, aws_rds as rds
import aws_cdk as cdk
from constructs import Construct

from hydra_on_aws.config.settings import HydraConfig

from ._util import acknowledge_log_retention, kept_in_production, retention

DATABASE_NAME = "hydra"
ADMIN_USER = "hydra_admin"
PORT = 5432

_REMOVAL = {"snapshot": RemovalPolicy.SNAPSHOT, "retain": RemovalPolicy.RETAIN, "destroy": RemovalPolicy.DESTROY}


class Database(Construct):
    """Aurora PostgreSQL Serverless v2 in the isolated subnets.

    Provides ``cluster``, ``secret`` (generated credentials: username,
    password, host, port, dbname) and ``security_group``.
    Invariants: storage encrypted, TLS forced (``rds.force_ssl``), logs
    exported, and port 5432 open only to security groups named through
    :meth:`allow_from` - never to a CIDR.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: HydraConfig, vpc: ec2.IVpc,
                 subnets: ec2.SubnetSelection) -> None:
        super().__init__(scope, construct_id)

        engine = rds.DatabaseClusterEngine.aurora_postgres(
            version=rds.AuroraPostgresEngineVersion.of(
                config.db_engine_version, config.db_engine_version.split(".")[0]))

        self.security_group = ec2.SecurityGroup(
            self, "SecurityGroup", vpc=vpc, allow_all_outbound=False,
            description="Aurora PostgreSQL for Hydra: 5432 from named security groups only")

        parameters = rds.ParameterGroup(
            self, "ClusterParameters", engine=engine,
            description="Hydra: TLS only, connection and slow-statement logging",
            parameters={
                "rds.force_ssl": "1",
                "log_connections": "1",
                "log_disconnections": "1",
                "log_min_duration_statement": "2000",
            })

        removal = _REMOVAL[config.db_removal_policy]
        self.cluster = rds.DatabaseCluster(
            self, "Cluster",
            engine=engine,
            credentials=rds.Credentials.from_generated_secret(ADMIN_USER),
            default_database_name=DATABASE_NAME,
            port=PORT,
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[self.security_group],
            writer=rds.ClusterInstance.serverless_v2("Writer", enable_performance_insights=True),
            readers=[rds.ClusterInstance.serverless_v2(f"Reader{i + 1}", scale_with_writer=True,
                                                       enable_performance_insights=True)
                     for i in range(config.db_readers)],
            serverless_v2_min_capacity=config.db_min_capacity,
            serverless_v2_max_capacity=config.db_max_capacity,
            storage_encrypted=True,
            parameter_group=parameters,
            backup=rds.BackupProps(retention=Duration.days(config.db_backup_retention_days),
                                   preferred_window="02:00-03:00"),
            preferred_maintenance_window="sun:03:30-sun:04:30",
            deletion_protection=config.db_deletion_protection,
            removal_policy=removal,
            copy_tags_to_snapshot=True,
            cloudwatch_logs_exports=["postgresql"],
            cloudwatch_logs_retention=retention(config.log_retention_days),
            iam_authentication=False,
        )
        assert self.cluster.secret is not None
        self.secret = self.cluster.secret
        # A snapshot without its credentials is much harder to bring back.
        self.cluster.node.find_child("Secret").apply_removal_policy(
            kept_in_production(config.production))
        self.port = PORT

        Validations.of(self.cluster).acknowledge(
            cdk.Acknowledgment(id="AwsSolutions-RDS6", reason=(
                "Hydra cannot use IAM database authentication: it connects with the user and password "
                "in its DSN secret.")),
            cdk.Acknowledgment(id="AwsSolutions-RDS11", reason=(
                "5432 is reachable only from named security groups in isolated subnets; a non-default "
                "port would add nothing but friction.")),
        )
        # RDS creates the exported log group itself; CDK's singleton function sets its retention.
        acknowledge_log_retention(self)
        if not config.db_deletion_protection:
            Validations.of(self.cluster).acknowledge(cdk.Acknowledgment(id="AwsSolutions-RDS10", reason=(
                f"Environment '{config.env_name}' is disposable (db_deletion_protection=false); production "
                "configurations cannot turn deletion protection off.")))

    def allow_from(self, client: ec2.IConnectable, description: str) -> None:
        """Open 5432 to ``client``'s security groups.

        The rule pair is created on the client's side, so a client in a stack
        that depends on this one adds no reverse dependency.
        """
        client.connections.allow_to(self.cluster, ec2.Port.tcp(PORT), description)
