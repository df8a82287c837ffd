"""An unmodified pymesos 0.3.15 framework, driven against a berth master by tests/pymesos.rs.

It subscribes, takes the first offer, launches one Docker task from the given image, acknowledges
updates (pymesos's implicit acknowledgements), reconciles once the task runs and again when it
has finished, then tears down. Every step is printed as one JSON line on stdout for the Rust test
to check; the exit code is 0 only when the whole sequence happened.

usage: pymesos_client.py MASTER_HOST:PORT IMAGE
"""
import json
import sys
import threading
import time

from pymesos import MesosSchedulerDriver, Scheduler


def say(event, **fields):
    fields["event"] = event
    print(json.dumps(fields), flush=True)


class SeedScheduler(Scheduler):
    def __init__(self, image):
        self.image = image
        self.launched = False
        self.states = []
        self.reconciled = []
        self.done = threading.Event()

    def registered(self, driver, framework_id, master_info):
        say("registered", framework_id=framework_id["value"], master=master_info)

    def resourceOffers(self, driver, offers):
        for offer in offers:
            if self.launched:
                driver.declineOffer(offer["id"])
                continue
            self.launched = True
            say("offer", agent_id=offer["agent_id"]["value"],
                resources=sorted(r["name"] for r in offer["resources"]))
            task = {
                "task_id": {"value": "pymesos-task-1"},
                "agent_id": offer["agent_id"],
                "name": "pymesos-task-1",
                "resources": [
                    {"name": "cpus", "type": "SCALAR", "scalar": {"value": 0.1}},
                    {"name": "mem", "type": "SCALAR", "scalar": {"value": 32}},
                ],
                "command": {"value": "echo hello from pymesos; sleep 1"},
                "container": {
                    "type": "DOCKER",
                    "docker": {"image": self.image, "network": "BRIDGE"},
                },
            }
            driver.launchTasks(offer["id"], [task])
            say("launched", task_id="pymesos-task-1")

    def statusUpdate(self, driver, update):
        state = update["state"]
        reason = update.get("reason")
        if reason == "REASON_RECONCILIATION":
            self.reconciled.append(state)
            say("reconciled", state=state, message=update.get("message"),
                has_uuid="uuid" in update)
            if state == "TASK_FINISHED":
                self.done.set()
            return
        self.states.append(state)
        say("update", state=state, source=update.get("source"),
            message=update.get("message"), has_uuid="uuid" in update)
        if state == "TASK_RUNNING":
            driver.reconcileTasks([])
        if state in ("TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST", "TASK_ERROR"):
            # Explicit reconciliation of the finished task: the master still knows it
            # until the acknowledgement of its terminal update has been processed.
            driver.reconcileTasks([{"task_id": {"value": "pymesos-task-1"}}])
            threading.Timer(1.0, self.done.set).start()

    def error(self, driver, message):
        say("error", message=message)
        self.done.set()


def main():
    master, image = sys.argv[1], sys.argv[2]
    sched = SeedScheduler(image)
    framework = {"user": "root", "name": "pymesos-compat", "hostname": "localhost"}
    driver = MesosSchedulerDriver(sched, framework, master, use_addict=False)
    driver.start()
    finished = sched.done.wait(timeout=90)
    driver.stop()  # not a failover: pymesos sends TEARDOWN
    driver.join()
    say("stopped", states=sched.states, reconciled=sched.reconciled)
    ok = finished and "TASK_RUNNING" in sched.states and "TASK_FINISHED" in sched.states
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
