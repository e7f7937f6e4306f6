"""make faults / python -m bench.faults [--only 1,6] [--batch 40] [--rate 2] [--out FILE]

Runs the fault scenarios against Rheo's real processes on a PostgreSQL cluster and a Redis
server of its own, prints each scenario's figures and writes them all to a JSON file;
exits non-zero when any part of the goal is not met. See bench/README.md, "Fault suite".
"""

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import (
    RESULTS,
    log,
    source_version,
    unwind_on_sigterm,
    write_results,
)
from bench.faults.measure import Batch, figures, verdict
from bench.faults.scenarios import SCENARIOS
from bench.faults.servers import own_servers
from bench.faults.system import ImageHost, Partner, Receiver, System


class Suite:
    """What every scenario works with."""

    def __init__(self, args, pg, redis, system, images, receiver, partner, key):
        self.args, self.pg, self.redis, self.system = args, pg, redis, system
        self.images, self.receiver, self.partner, self.key = images, receiver, partner, key
        self.pg_dsn = pg.url().replace("postgres://", "postgresql://")


def run_scenario(suite: Suite, scenario) -> dict:
    log(f"scenario {scenario.number}: {scenario.title}")
    system = suite.system
    offsets = system.log_offsets()
    batch = Batch(suite, f"S{scenario.number}-", suite.args.batch, scenario.final)
    started = time.time()
    fault = scenario.run(suite, batch)
    log(f"  fault cleared after {fault.cleared - fault.began:.0f} s; waiting for the batch")
    snap, done_at, deaths = batch.wait(fault.cleared + suite.args.ceiling, system)
    if fault.after is not None:
        fault.after()
    result = {"scenario": scenario.number, "title": scenario.title}
    result.update(figures(batch, snap, done_at, fault))
    result["processes_died"] = deaths
    result["extra_checks"] = result["fault"].pop("extra_checks", {})
    result["checks"] = verdict(result)
    result["goal_met"] = all(result["checks"].values())
    result["log_problems"] = system.problems_since(offsets)
    result["seconds"] = round(time.time() - started, 1)
    revived = system.revive()
    if revived:
        result["restarted_after"] = revived
    report(result)
    return result


def report(result: dict) -> None:
    items, events, answers = result["items"], result["events"], result["answers"]
    lines = [
        f"  items: {items['accepted']}/{items['pushed']} accepted, lost {len(items['lost'])},"
        f" stuck {len(items['stuck'])} {items['stuck_states'] or ''}",
        f"  auctions per item (sandbox): {result['auctions_per_item']};"
        f" running on a part not for sale: {len(result['running_on_not_for_sale'])}",
        f"  events: expected {events['expected']}, received {events['received']},"
        f" duplicated {events['duplicated']}, valid signature {events['valid_signature']}/"
        f"{events['deliveries']}, unexpected {events['unexpected'] or 0}",
        f"  answers during the fault: {answers['during_fault']};"
        f" 5xx for a committed change: {len(answers['5xx_for_committed_change'])}",
        f"  recovery: {result['recovery_seconds']} s after the fault cleared;"
        f" processes that died: {[d['process'] for d in result['processes_died']] or 'none'}",
    ]
    failed = [name for name, ok in result["checks"].items() if not ok]
    lines.append("  goal met" if not failed else f"  GOAL NOT MET: {', '.join(failed)}")
    for name, problems in result["log_problems"].items():
        lines.append(f"  {name}: {problems[0][:200]}")
    print("\n".join(lines), flush=True)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__)
    parser.add_argument("--only", default="", help="scenarios to run, e.g. 1,6 (default all)")
    parser.add_argument("--batch", type=int, default=40, help="items per scenario (40)")
    parser.add_argument("--rate", type=float, default=2.0, help="items pushed a second (2)")
    parser.add_argument(
        "--ceiling", type=float, default=600,
        help="seconds to wait for a batch after its fault cleared, at most (600)",
    )  # fmt: skip
    parser.add_argument("--out", help="the result file (default bench/results/faults-<time>.json)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder and logs")
    args = parser.parse_args(argv)
    chosen = {int(n) for n in args.only.split(",") if n.strip()}
    args.scenarios = [s.number for s in SCENARIOS if not chosen or s.number in chosen]
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    unwind_on_sigterm()
    scratch = tempfile.mkdtemp(prefix="rheo-faults-")
    os.chmod(scratch, 0o755)  # the postgres user reaches its cluster's folder inside
    report_ = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "args": {k: v for k, v in vars(args).items()},
        "source": source_version(),
        "scratch": scratch,
        "results": [],
    }
    log(f"source: {report_['source']}; scratch folder {scratch}")
    images, receiver = ImageHost(), Receiver()
    try:
        with own_servers(scratch) as (pg, redis):
            system = System(scratch, pg.url(), redis.url)
            report_["machine"] = machine(pg, redis)
            try:
                system.start()
                partner = Partner(system)
                partner.create()
                key = partner.new_test_key("fault suite")["key"]
                receiver.secret = partner.configure_webhook(receiver.url)
                suite = Suite(args, pg, redis, system, images, receiver, partner, key)
                for scenario in SCENARIOS:
                    if scenario.number in args.scenarios:
                        report_["results"].append(run_scenario(suite, scenario))
                        save(report_, args)
            finally:
                system.stop()  # before its PostgreSQL and Redis go
    except KeyboardInterrupt:
        log("interrupted; stopping everything")
        report_["interrupted"] = True
    finally:
        images.close()
        receiver.close()
    met = bool(report_["results"]) and all(r["goal_met"] for r in report_["results"])
    report_["goal_met"] = met and not report_.get("interrupted")
    out = save(report_, args)
    summary(report_)
    log(f"results: {out}")
    if args.keep:
        log(f"kept: {scratch}")
    else:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0 if report_["goal_met"] else 1


def save(report_: dict, args) -> Path:
    if args.out:
        Path(args.out).write_text(json.dumps(report_, indent=2, default=str))
        return Path(args.out)
    if not hasattr(args, "_out"):
        args._out = write_results(report_, "faults")
    else:
        args._out.write_text(json.dumps(report_, indent=2, default=str))
    return args._out


def summary(report_: dict) -> None:
    print("\nscenario                                        lost stuck 2+auct running"
          " events(missing/dup) 5xx recovery  goal")  # fmt: skip
    for r in report_["results"]:
        print(
            f"{r['scenario']} {r['title'][:44]:44} {len(r['items']['lost']):5}"
            f" {len(r['items']['stuck']):5} {len(r['double_auctions']):7}"
            f" {len(r['running_on_not_for_sale']):7}"
            f" {r['events']['missing']:>10}/{r['events']['duplicated']:<8}"
            f" {len(r['answers']['5xx_for_committed_change']):3}"
            f" {str(r['recovery_seconds']) + ' s':>9}  {'met' if r['goal_met'] else 'NOT MET'}"
        )
    print(f"\noverall: {'goal met' if report_['goal_met'] else 'GOAL NOT MET'}", flush=True)


def machine(pg, redis) -> dict:
    with open("/proc/cpuinfo") as cpuinfo:
        models = [x.split(":", 1)[1].strip() for x in cpuinfo if x.startswith("model name")]
    model = models[0] if models else ""
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "postgresql": pg.version(),
        "redis": redis.version(),
        "loadavg_at_start": os.getloadavg(),
    }


if __name__ == "__main__":
    RESULTS.mkdir(exist_ok=True)
    sys.exit(main())
