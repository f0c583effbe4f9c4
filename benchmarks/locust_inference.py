"""Locust load for bench_inference.py: POST one of the prepared JSON bodies to BENCH_PATH, each user
at BENCH_RATE_PER_USER requests/s on average with exponential pauses (0: as fast as answers come),
and write every request's (time, latency ms, ok) to BENCH_OUT when the run ends. Not run on its own.

Random pauses keep the users independent: with fixed ones (constant_throughput) users answered in
the same batch wait the same time and come back together, and the load turns into bursts."""

import json
import os
import random
import time

from locust import FastHttpUser, constant, events, task

with open(os.environ["BENCH_BODIES"], encoding="utf-8") as _file:
    BODIES = [json.dumps(body).encode() for body in json.load(_file)]
PATH = os.environ["BENCH_PATH"]
RATE = float(os.environ.get("BENCH_RATE_PER_USER", "0"))
HEADERS = {"Content-Type": "application/json"}
SAMPLES: list[tuple[float, float, bool]] = []


def exponential_pause(user) -> float:
    return random.expovariate(RATE)


class InferenceClient(FastHttpUser):
    wait_time = exponential_pause if RATE > 0 else constant(0)

    @task
    def infer(self) -> None:
        with self.client.post(PATH, data=random.choice(BODIES), headers=HEADERS, catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"HTTP {response.status_code}: {response.text[:200]}")


@events.request.add_listener
def _record(response_time, exception, **kwargs) -> None:
    SAMPLES.append((time.time(), response_time, exception is None))


@events.quitting.add_listener
def _dump(environment, **kwargs) -> None:
    with open(os.environ["BENCH_OUT"], "w", encoding="utf-8") as out:
        json.dump(SAMPLES, out)
