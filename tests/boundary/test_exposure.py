"""The exposure report: the same analysis as the guard, as rows a reviewer can read."""

from __future__ import annotations

from hydra_on_aws.boundary.exposure import Exposure, render


def network(synth):
    return synth.network


def rows(synth) -> dict[tuple[str, str], tuple[tuple[str, ...], str]]:
    return {(r.component, r.port): (r.reachable_from, r.internet) for r in Exposure(network(synth)).rows()}


def test_rows_for_every_listening_port(synth):
    table = rows(synth)
    tasks = "Hydra tasks Service: Hydra/Service/Service"
    assert table[(tasks, "4445")] == (("security group Ingress: LoadBalancers/AdminNlbSecurityGroup",), "no")
    who, internet = table[(tasks, "4444")]
    assert who == ("security group Ingress: LoadBalancers/PublicNlbSecurityGroup",)
    assert internet.startswith("API Gateway via ") and internet.endswith("-> Ingress: LoadBalancers/PublicNlb")
    assert table[("network load balancer Ingress: LoadBalancers/AdminNlb", "4445")] == (
        ("security group Ingress: Bastion/SecurityGroup",
         "security group Operations: DeclaredClients/Function/SecurityGroup",
         "security group Operations: SigningKeys/Function/SecurityGroup"), "no")
    who, internet = table[("network load balancer Ingress: LoadBalancers/PublicNlb", "4444")]
    assert "(PrivateLink, inbound rules not enforced)" in who[0] and internet.startswith("API Gateway via ")
    assert table[("database Stateful: Database/Cluster", "5432")] == ((
        "security group Ingress: LoadBalancers/HydraTasksSecurityGroup",
        "security group Operations: RotationFollower/Function/SecurityGroup",
        "security group Service: Hydra/CommandsSecurityGroup",
        "security group Stateful: Roles/Bootstrap/SecurityGroup",
        "security group Stateful: Roles/RotationSecurityGroup",
        "security group Stateful: Secrets/DsnComposer/SecurityGroup"), "no")
    assert table[("EC2 instance Ingress: Bastion/Instance", "-")] == (
        ("nobody (no inbound rule); operators use SSM Session Manager",), "no")


def test_no_admin_port_row_names_an_internet_path(synth):
    admin = str(synth.config.hydra_admin_port)
    admin_rows = [(k, v) for k, v in rows(synth).items() if k[1] == admin]
    assert len(admin_rows) == 2
    assert all(internet == "no" for _, (_, internet) in admin_rows)
    assert render(synth.config.env_name, network(synth)).endswith(
        f"Admin port {admin}: **no path from outside the VPC**.")


def test_granted_ranges_appear_in_the_admin_rows(dev_domain):
    who, internet = rows(dev_domain)[("network load balancer Ingress: LoadBalancers/AdminNlb", "4445")]
    assert "10.40.128.0/24 (inside the VPC)" in who and internet == "no"


def test_the_command_reads_an_assembly_and_renders_the_same_table(dev, tmp_path, capsys):
    """What `cdk synth -o DIR` wrote gives, byte for byte, the table of the session's synthesis."""
    from hydra_on_aws.boundary.exposure import main
    dev.app.synth(force=False)  # the session's assembly: written once, in its outdir
    assert main(["--env", "dev", "--assembly", dev.app.outdir]) == 0
    assert capsys.readouterr().out == render("dev", network(dev)) + "\n"


def test_readme_shows_the_current_dev_report(dev):
    from devtools.docs import README, readme_section
    assert readme_section(README.read_text(), "exposure:dev") == render("dev", network(dev)), \
        "run `make docs` and commit README.md"
