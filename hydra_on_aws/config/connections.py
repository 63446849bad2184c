"""The database connection budget: the worst case must fit Aurora's max_connections.

Aurora Serverless v2 sizes PostgreSQL's ``max_connections`` from the memory of
the instance's *maximum* capacity, not its current one, and caps it at 2,000
when the minimum capacity is 0 or 0.5 ACU. Source: Amazon Aurora User Guide,
"Maximum connections for Aurora Serverless v2"
(https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless-v2.setting-capacity.html#aurora-serverless-v2.max-connections),
whose table gives, for Aurora PostgreSQL, max ACU 1: 189, 4: 823, 8: 1,669,
16: 3,360, 32 and above: 5,000 (the ``LEAST({DBInstanceClassMemory/9531392},
5000)`` formula evaluated at the maximum ACU). Between two rows we take the
lower one: the budget errs on the safe side.
"""

from __future__ import annotations

from dataclasses import dataclass

# (max ACU, max_connections) for Aurora PostgreSQL Serverless v2, from the table cited above.
AURORA_PG_MAX_CONNECTIONS = ((1, 189), (4, 823), (8, 1669), (16, 3360), (32, 5000), (64, 5000),
                             (128, 5000), (256, 5000))
LOW_MINIMUM_CAP = 2000          # when the minimum capacity is 0 or 0.5 ACU
SUPERUSER_RESERVED = 3          # PostgreSQL's superuser_reserved_connections
MIGRATION_MAX_CONNS = 4         # max_conns in the migration DSN
# Functions that log in: DSN composer, role bootstrap, rotation follower (one each),
# and a rotation function (master and user connection at once).
FUNCTION_CONNECTIONS = {"DSN composer": 1, "role bootstrap": 1, "rotation follower": 1, "secret rotation": 2}


def aurora_postgres_max_connections(min_acu: float, max_acu: float) -> int:
    value = AURORA_PG_MAX_CONNECTIONS[0][1]
    for acu, connections in AURORA_PG_MAX_CONNECTIONS:
        if max_acu >= acu:
            value = connections
    if min_acu <= 0.5:
        value = min(value, LOW_MINIMUM_CAP)
    return value


@dataclass(frozen=True)
class Budget:
    max_connections: int
    demand: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.demand.values())

    @property
    def fits(self) -> bool:
        return self.total <= self.max_connections

    def explain(self) -> str:
        parts = " + ".join(f"{n} ({what})" for what, n in self.demand.items())
        return f"{parts} = {self.total} connections, against max_connections {self.max_connections}"


def budget(*, min_acu: float, max_acu: float, max_tasks: int, max_conns: int) -> Budget:
    """Worst case: a deployment runs old and new tasks side by side at the largest scale-out."""
    demand = {f"2 x {max_tasks} tasks x max_conns {max_conns}": 2 * max_tasks * max_conns,
              "migration task": MIGRATION_MAX_CONNS,
              "janitor task": max_conns,
              **FUNCTION_CONNECTIONS,
              "superuser reserved": SUPERUSER_RESERVED}
    return Budget(aurora_postgres_max_connections(min_acu, max_acu), demand)
