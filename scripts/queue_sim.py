#!/usr/bin/env python3
"""Simulate runs of a two-sided debate sharing a server of limited capacity.

Each run is a chain of steps (the opening opinions of six debaters, then per round six
speakers in turn and six private opinions, and a consolidation before round 4): a step's
calls go out together and the next step starts when all of them are answered. Calls
wait for one of C slots; when a slot frees, the waiting call with the smallest key goes
next. Prints the experiment's length in steps of the latency for several queue rules,
with a fixed latency and with latency jitter, against the chain of one run (44 steps).

It also models finer dependencies than the debate has: each speaker waiting only for
the previous speaker and its own latest opinion (no round boundary, as if no stop rule
read everyone's opinion after a round), with the call that has the longest chain
still ahead of it first: the best a scheduler could do with per-answer dependencies.

    python3 scripts/queue_sim.py [runs] [capacity]
"""
import heapq
import random
import sys


def chain():
    steps = [6]
    for r in range(1, 7):
        if r == 4:
            steps.append(6)
        steps += [1] * 6 + [6]
    return steps


def simulate(key, runs, capacity, latency=200.0, jitter=0.0, start_gap=0.0, seed=1):
    rnd = random.Random(seed)
    plans = [chain() for _ in range(runs)]
    done = [0] * runs
    outstanding = [0] * runs
    finished = [None] * runs
    events, queue = [], []
    arrivals = 0
    free = capacity

    def submit(i):
        nonlocal arrivals
        width = plans[i][done[i]]
        outstanding[i] = width
        for _ in range(width):
            heapq.heappush(queue, (key(width, done[i]), arrivals, i))
            arrivals += 1

    for i in range(runs):
        heapq.heappush(events, (i * start_gap, 0, i))
    while events:
        t, kind, i = heapq.heappop(events)
        if kind == 0:
            submit(i)
        else:
            free += 1
            outstanding[i] -= 1
            if outstanding[i] == 0:
                done[i] += 1
                if done[i] == len(plans[i]):
                    finished[i] = t
                else:
                    heapq.heappush(events, (t, 0, i))
        while free > 0 and queue:
            _, _, j = heapq.heappop(queue)
            free -= 1
            heapq.heappush(events, (t + latency + rnd.random() * jitter, 1, j))
    return max(finished) / latency


RULES = {
    "first come, first served": lambda width, done: 0,
    "run furthest behind first": lambda width, done: done,
    "smallest step, then run furthest behind (Agora)": lambda width, done: (width, done),
}

def calls_of_one_run():
    """The calls of one run and what each waits for, with per-answer dependencies."""
    deps = {("O", 0, i): [] for i in range(6)}
    previous = None
    for r in range(1, 7):
        if r == 4:
            for i in range(6):
                deps[("C", i)] = [("O", 3, i)]
        for k in range(6):
            own = ("C", k) if r == 4 else ("O", r - 1, k)
            deps[("S", r, k)] = [own] + ([previous] if previous else [])
            previous = ("S", r, k)
        for i in range(6):
            deps[("O", r, i)] = [("S", r, 5)]
    return deps


def simulate_calls(runs, capacity, latency=200.0, jitter=0.0, start_gap=0.0, seed=1):
    """Like `simulate`, with per-answer dependencies; longest chain ahead first."""
    rnd = random.Random(seed)
    deps = calls_of_one_run()
    after = {c: [] for c in deps}
    for c, ds in deps.items():
        for d in ds:
            after[d].append(c)
    ahead = {}
    for c in reversed(list(deps)):
        ahead[c] = 1 + max((ahead[a] for a in after[c]), default=0)
    waiting = [{c: len(ds) for c, ds in deps.items()} for _ in range(runs)]
    events, queue, free, order, end = [], [], capacity, 0, 0.0
    for i in range(runs):
        for c, ds in deps.items():
            if not ds:
                heapq.heappush(events, (i * start_gap, 0, order, i, c))
                order += 1
    while events:
        t, kind, _, i, c = heapq.heappop(events)
        if kind == 0:
            heapq.heappush(queue, (-ahead[c], order, i, c))
            order += 1
        else:
            free += 1
            end = max(end, t)
            for a in after[c]:
                waiting[i][a] -= 1
                if waiting[i][a] == 0:
                    heapq.heappush(events, (t, 0, order, i, a))
                    order += 1
        while free > 0 and queue:
            _, _, j, cj = heapq.heappop(queue)
            free -= 1
            heapq.heappush(events, (t + latency + rnd.random() * jitter, 1, order, j, cj))
            order += 1
    return end / latency


if __name__ == "__main__":
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 32
    capacity = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    print(f"{runs} runs, capacity {capacity}, chain of one run: {len(chain())} steps")
    for name, key in RULES.items():
        exact = simulate(key, runs, capacity)
        jittered = simulate(key, runs, capacity, jitter=15.0, start_gap=8.0)
        print(f"{name}: {exact:.1f} steps; with 0-15 ms jitter {jittered:.1f}")
    exact = simulate_calls(runs, capacity)
    jittered = simulate_calls(runs, capacity, jitter=15.0, start_gap=8.0)
    print(f"per-answer dependencies, longest chain ahead first: {exact:.1f} steps; "
          f"with 0-15 ms jitter {jittered:.1f}")
