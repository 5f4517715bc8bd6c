#!/usr/bin/env python3
"""The fewest latency steps in which any scheduler can play the two-sided debate's runs
on a server of limited capacity.

Each run is the chain of steps of `queue_sim.chain()` (six opening opinions, then per
round six speakers in turn and six private opinions, a consolidation before round 4):
a step's calls may go out only when the run's previous step has been answered, and
every call holds one of C slots for one step of latency. Two integer programs, solved
with CBC:

- whole steps: each run plays a step's calls in one time slot. A feasible solution is a
  schedule, so its length is reachable.
- calls: a step's calls may be spread over several slots and over runs (a run's step
  counts as done once as many calls as its width were made for the runs that reached
  it). This relaxes the debate, so a length it cannot reach no scheduler can reach.

When the second is infeasible at T - 1 steps and the first feasible at T, T is the
optimum. Every call is taken to last exactly one latency and to cost no time between
steps, so a real run needs more.

    pip install pulp
    python3 scripts/debate_schedule_bound.py [runs] [capacity]
"""
import sys

import pulp

from queue_sim import chain


def feasible(steps, runs, capacity, horizon, split_steps):
    """Whether every run can finish its chain within `horizon` slots."""
    length = len(steps)
    problem = pulp.LpProblem("debate", pulp.LpMinimize)
    # A step k can only be played in slots k .. horizon - (length - k).
    slots = {(k, t) for k in range(length) for t in range(k, horizon - (length - 1 - k))}
    done = {s: pulp.LpVariable(f"done_{s[0]}_{s[1]}", 0, runs, cat="Integer") for s in slots}

    def finished(k, t):
        return pulp.lpSum(done[k, s] for s in range(t + 1) if (k, s) in done)

    problem += 0
    if split_steps:
        calls = {s: pulp.LpVariable(f"calls_{s[0]}_{s[1]}", 0, runs * steps[s[0]], cat="Integer")
                 for s in slots}

        def made(k, t):
            return pulp.lpSum(calls[k, s] for s in range(t + 1) if (k, s) in calls)

        for k, t in slots:
            problem += steps[k] * finished(k, t) <= made(k, t)
            reached = runs if k == 0 else finished(k - 1, t - 1)
            problem += made(k, t) <= steps[k] * reached
        load = {t: pulp.lpSum(calls[k, t] for k in range(length) if (k, t) in calls)
                for t in range(horizon)}
    else:
        for k, t in slots:
            if k > 0:
                problem += finished(k, t) <= finished(k - 1, t - 1)
        load = {t: pulp.lpSum(steps[k] * done[k, t] for k in range(length) if (k, t) in done)
                for t in range(horizon)}
    for k in range(length):
        problem += finished(k, horizon - 1) == runs
    for t in range(horizon):
        problem += load[t] <= capacity
    status = problem.solve(pulp.PULP_CBC_CMD(msg=0))
    return pulp.LpStatus[status] == "Optimal"


def shortest(steps, runs, capacity, split_steps):
    """The fewest slots in which the model finishes, searching up from the chain."""
    calls = sum(steps) * runs
    horizon = max(len(steps), -(-calls // capacity))
    while not feasible(steps, runs, capacity, horizon, split_steps):
        horizon += 1
    return horizon


if __name__ == "__main__":
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 32
    capacity = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    steps = chain()
    whole = shortest(steps, runs, capacity, split_steps=False)
    relaxed = shortest(steps, runs, capacity, split_steps=True)
    print(f"{runs} runs, capacity {capacity}: chain of one run {len(steps)} steps, "
          f"{sum(steps) * runs} calls (at least {-(-sum(steps) * runs // capacity)} steps of a full server)")
    print(f"whole steps: a schedule of {whole} steps ({whole / len(steps):.3f} of the chain)")
    print(f"calls spread over slots (lower bound): {relaxed} steps ({relaxed / len(steps):.3f} of the chain)")
