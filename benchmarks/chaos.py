"""The chaos run in a child process: orders and alerts through the app while its brokers die.

``python -m benchmarks.chaos chaos PARAMS_JSON``, started by ``run.py``; the machinery is the
chaos test's (tests/support/chaos.py), with its own persistent brokers and outbox.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from dataclasses import asdict
from pathlib import Path

from benchmarks.proc import Params, main_of, report
from mwm_tui.config import Settings
from tests.support.brokers import ActiveMQ, Mosquitto
from tests.support.chaos import BrokerHost, KillPlan, LinkClock, make_app, run_chaos
from tests.support.ui import driven

# Seconds the app itself takes per order and alert pair with 1,000 trucks listed (measured).
PAIR_COST = 0.05


def kill_plan(params: Params) -> KillPlan:
    """Spread the kills over the sending: each round kills each broker once."""
    rounds = int(params["rounds"])
    sending = params["count"] * (params["spacing"] + PAIR_COST)
    return KillPlan(rounds=rounds, pause=max(2.0, 0.75 * sending / (2 * rounds)), freeze_rounds=1)


async def chaos(params: Params) -> None:
    plan = kill_plan(params)
    with tempfile.TemporaryDirectory(prefix="mwm-bench-chaos-") as workdir:
        base = Path(workdir)
        activemq = ActiveMQ(workdir=base / "activemq", persistent=True)
        mosquitto = Mosquitto(workdir=base / "mosquitto", persistent=True)
        with activemq, mosquitto:
            host = BrokerHost()
            clock = LinkClock()
            settings = Settings(stomp=activemq.url, mqtt=mosquitto.url, data_dir=str(base / "data"))
            app = make_app(settings, clock)
            try:
                async with driven(app) as pilot:
                    outcome = await run_chaos(
                        pilot,
                        app,
                        clock,
                        host,
                        activemq=activemq,
                        mosquitto=mosquitto,
                        count=int(params["count"]),
                        prefix=f"bench{uuid.uuid4().hex[:4]}-",
                        plan=plan,
                        spacing=float(params["spacing"]),
                        settle_timeout=300.0,
                    )
            finally:
                host.close([activemq, mosquitto])
    report(
        "RESULT",
        {
            "count": outcome.sent,
            "nproc": len(os.sched_getaffinity(0)),
            "spacing": params["spacing"],
            "plan": asdict(plan),
            "queued": outcome.queued,
            "resends": outcome.resends,
            "resends_logged": outcome.resends_logged,
            "lost": outcome.lost,
            "duplicates": outcome.duplicates,
            "outcomes": {str(stage): n for stage, n in outcome.outcomes.items()},
            "seconds": outcome.seconds,
            "sending_seconds": outcome.sending_seconds,
            "kills_seconds": outcome.kills[-1].ready_at - outcome.kills[0].killed_at,
            "kills": [
                {
                    "broker": kill.broker,
                    "link": str(kill.link),
                    "frozen": kill.frozen,
                    "restart_s": kill.ready_at - kill.killed_at,
                    "link_up_s": None if up is None else up - kill.ready_at,
                    "outage_s": None if up is None else up - kill.killed_at,
                }
                for kill, up in outcome.recoveries
            ],
        },
    )


KINDS = {"chaos": chaos}

if __name__ == "__main__":
    main_of(KINDS)
