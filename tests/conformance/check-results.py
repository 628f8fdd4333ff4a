#!/usr/bin/env python3
"""Judges the checks.json files of the conformance suite's runs against expected-failures.

Usage: check-results.py EXPECTED SCENARIOS MODE=DIR...

EXPECTED is tests/conformance/expected-failures, SCENARIOS the suite's own list of server
scenarios (one a line), and each MODE=DIR the output directory (-o) of one run of the suite.

The suite's own baseline cannot say what we need: it counts warnings as failures and judges each
run alone, while a check that fails only without MCP sessions is expected in one run and not the
other. So the suite runs without a baseline and this script gives the verdict. It fails on
 - a FAILURE check that expected-failures does not list,
 - a listed check (or `*` scenario) that failed in none of the runs: the entry is stale,
 - a scenario of the suite that left no checks.json in a run (the suite crashed or gave up),
 - a scenario in MUST_SUCCEED without a passing check of its own in its run, so that it cannot
   pass by testing nothing.
Warnings are printed, not failed on: they are SHOULDs, or fixtures missing for optional checks.
"""

import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

# The suite appends this check to any scenario that exchanged messages; it says nothing about
# whether the scenario tested what it is about, so it does not count towards MUST_SUCCEED.
WIRE_SCHEMA_CHECK = "wire-schema-valid"

# Scenarios an issue demands, each in the run where it applies. Without sessions the session
# scenarios only report that they skipped (or warn), and all of them could turn into skips if
# the server or the suite changed, which no failure list would notice.
MUST_SUCCEED = {
    "sessions": [
        "server-session-lifecycle",
        "server-sse-multiple-streams",
    ],
    "stateless": [
        "server-stateless",
        "dns-rebinding-protection",
        "http-header-validation",
        "caching",
        "sep-2164-resource-not-found",
    ],
}

# A result directory is named server-<scenario>-<ISO timestamp with - for : and .>.
RESULT_DIR = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$")
ENTRY = re.compile(r"^(?P<scenario>[a-z0-9][a-z0-9-]*):\s+(?P<checks>\S.*?)\s*$")


def read_expected(path):
    """Returns {scenario: set of check ids, or None for `*`}; exits on a malformed line."""
    expected = {}
    errors = []
    for number, raw in enumerate(Path(path).read_text().splitlines(), start=1):
        entry, _, reason = raw.partition("#")
        if not entry.strip():
            continue
        where = f"{path}:{number}"
        match = ENTRY.match(entry.strip())
        if not match:
            errors.append(f"{where}: expected 'scenario: check-id ...' or 'scenario: *'")
            continue
        if not reason.strip():
            errors.append(f"{where}: every entry needs a reason after '#'")
        scenario, checks = match["scenario"], match["checks"].split()
        # A scenario may take several lines (one per missing fixture), but `*` stands alone.
        if checks == ["*"]:
            if scenario in expected:
                errors.append(f"{where}: {scenario} is listed again; '*' must be its only entry")
            expected[scenario] = None
            continue
        if "*" in checks or (scenario in expected and expected[scenario] is None):
            errors.append(f"{where}: {scenario}: '*' cannot be combined with check ids")
            continue
        listed = expected.setdefault(scenario, set())
        for check in checks:
            if check in listed:
                errors.append(f"{where}: {scenario}: {check} is listed twice")
            listed.add(check)
    if errors:
        sys.exit("\n".join(errors))
    return expected


def read_run(directory, scenarios):
    """Returns ({scenario: checks}, problems) for one run's output directory."""
    results = {}
    problems = []
    found = set()
    for entry in sorted(Path(directory).iterdir()) if Path(directory).is_dir() else []:
        match = RESULT_DIR.match(entry.name)
        if not match or match["scenario"] not in scenarios:
            problems.append(f"unexpected result directory {entry.name}")
            continue
        scenario = match["scenario"]
        found.add(scenario)
        checks_file = entry / "checks.json"
        # The suite creates the directory first and writes checks.json last, so a scenario that
        # threw leaves an empty directory; its failure then shows only in the suite's own log.
        if not checks_file.is_file():
            problems.append(f"{scenario} wrote no checks.json (it threw; see the suite's log)")
            continue
        results[scenario] = json.loads(checks_file.read_text())
    for scenario in sorted(set(scenarios) - found):
        problems.append(f"{scenario} did not run (the suite stopped early; see its log)")
    return results, problems


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    expected = read_expected(sys.argv[1])
    scenarios = Path(sys.argv[2]).read_text().split()
    if not scenarios:
        sys.exit("the suite listed no server scenarios")
    runs = {}
    for argument in sys.argv[3:]:
        mode, _, directory = argument.partition("=")
        runs[mode] = directory

    errors = []
    warnings = defaultdict(list)
    # (scenario, check id) -> the runs it failed in; for `*` entries the check id is "*".
    failed_in = defaultdict(set)
    for mode, directory in runs.items():
        results, problems = read_run(directory, scenarios)
        errors += [f"{mode}: {problem}" for problem in problems]
        statuses = Counter()
        unexpected = 0
        for scenario, checks in results.items():
            listed = expected.get(scenario, set())
            for check in checks:
                statuses[check["status"]] += 1
                detail = (check.get("errorMessage") or check.get("description") or "").strip()
                detail = detail.splitlines()[0] if detail else ""
                if check["status"] == "WARNING":
                    warnings[(scenario, check["id"], detail)].append(mode)
                if check["status"] != "FAILURE":
                    continue
                if listed is None:
                    failed_in[(scenario, "*")].add(mode)
                elif check["id"] in listed:
                    failed_in[(scenario, check["id"])].add(mode)
                else:
                    unexpected += 1
                    errors.append(f"{mode}: unexpected failure {scenario}: {check['id']}: {detail}")
        for scenario in MUST_SUCCEED.get(mode, []):
            own = [c for c in results.get(scenario, []) if c["id"] != WIRE_SCHEMA_CHECK]
            if not any(c["status"] == "SUCCESS" for c in own):
                errors.append(f"{mode}: {scenario} passed no check of its own in this run, "
                              "so it may have tested nothing")
        print(f"{mode}: {len(results)} scenarios, {statuses['SUCCESS']} passed, "
              f"{statuses['FAILURE']} failed ({unexpected} unexpected), "
              f"{statuses['WARNING']} warnings, {statuses['SKIPPED']} skipped")

    for scenario, listed in sorted(expected.items()):
        if scenario not in scenarios:
            errors.append(f"stale entry {scenario}: the suite has no such scenario")
            continue
        for check in sorted(listed) if listed is not None else ["*"]:
            if not failed_in[(scenario, check)]:
                errors.append(f"stale entry {scenario}: {check}: failed in no run "
                              f"({', '.join(runs)}); remove it from expected-failures")

    for (scenario, check, detail), modes in sorted(warnings.items()):
        print(f"warning ({', '.join(modes)}) {scenario}: {check}: {detail}")
    if errors:
        print("\n".join(errors), file=sys.stderr)
        sys.exit(f"conformance: {len(errors)} problem(s), see above")
    ids = sum(len(checks) for checks in expected.values() if checks is not None)
    stars = sum(1 for checks in expected.values() if checks is None)
    print(f"conformance: only expected failures ({ids} listed checks and {stars} '*' entries "
          f"in {len(expected)} scenarios)")


if __name__ == "__main__":
    main()
