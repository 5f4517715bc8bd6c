#!/usr/bin/env python3
"""Simulate runs of a two-sided debate sharing a server of limited capacity.

Each run is a chain of steps (the opening opinions of six debaters, then per round six
speakers in turn and six private opinions, and a consolidation before round 4): a step's
calls go out together and the next step starts when all of them are answered. Calls
wait for one of C slots; when a slot frees, the waiting call with the smallest key goes
next. Prints the experiment's length in steps of the latency for several queue rules,
with a fixed latency and with latency jitter, against the chain of one run (44 steps).

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

if __name__ == "__main__":
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 32
    capacity = int(sys.argv[2]) if len(sys.argv) > 2 else 64
    print(f"{runs} runs, capacity {capacity}, chain of one run: {len(chain())} steps")
    for name, key in RULES.items():
        exact = simulate(key, runs, capacity)
        jittered = simulate(key, runs, capacity, jitter=15.0, start_gap=8.0)
        print(f"{name}: {exact:.1f} steps; with 0-15 ms jitter {jittered:.1f}")
