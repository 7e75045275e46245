import os

from hypothesis import settings

settings.register_profile("spikestep", deadline=None, max_examples=40, derandomize=True)
settings.register_profile("thorough", deadline=None, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "spikestep"))

# The load-aware thread count (spikestep._runtime.thread_policy) would change torch's threads when other
# work shares the machine: the suite runs with a fixed count (its own tests turn the policy back on).
os.environ.setdefault("SPIKESTEP_ADAPT_THREADS", "0")
