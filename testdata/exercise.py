#!/usr/bin/env python3
"""The Python original of the "Redis basic" exercise, for interop tests.

Cache, count_calls, call_history, replay and get_page follow the original
line for line; the only changes are that the Redis port comes from the
command line, and that get_page fetches with urllib instead of requests (not
installed everywhere). Usage:

    exercise.py PORT store VALUE...      store each value (JSON-tagged), print keys
    exercise.py PORT replay              print replay(Cache.store)
    exercise.py PORT get_str KEY         print the value as text (JSON)
    exercise.py PORT get_int KEY         print the value as an int
    exercise.py PORT get_page URL        print the page body (JSON)
    exercise.py PORT repr VALUE...       print str((value,)) for each value
"""
import json
import sys
import urllib.request
import uuid
from functools import wraps
from typing import Callable, Optional, Union

import redis

PORT = int(sys.argv[1])


def count_calls(method: Callable) -> Callable:
    """Counts how many times a method is called."""
    key = method.__qualname__

    @wraps(method)
    def wrapper(self, *args, **kwargs):
        self._redis.incr(key)
        return method(self, *args, **kwargs)

    return wrapper


def call_history(method: Callable) -> Callable:
    """Stores the history of inputs and outputs of a method."""
    inputs = method.__qualname__ + ":inputs"
    outputs = method.__qualname__ + ":outputs"

    @wraps(method)
    def wrapper(self, *args, **kwargs):
        self._redis.rpush(inputs, str(args))
        output = method(self, *args, **kwargs)
        self._redis.rpush(outputs, output)
        return output

    return wrapper


def replay(method: Callable) -> None:
    """Displays the history of calls of a method."""
    name = method.__qualname__
    cache = redis.Redis(port=PORT)
    calls = cache.get(name)
    calls = calls.decode("utf-8") if calls is not None else 0
    print("{} was called {} times:".format(name, calls))
    inputs = cache.lrange(name + ":inputs", 0, -1)
    outputs = cache.lrange(name + ":outputs", 0, -1)
    for i, o in zip(inputs, outputs):
        print("{}(*{}) -> {}".format(name, i.decode("utf-8"), o.decode("utf-8")))


class Cache:
    """A cache on Redis."""

    def __init__(self, flush: bool = True):
        self._redis = redis.Redis(port=PORT)
        if flush:
            self._redis.flushdb()

    @count_calls
    @call_history
    def store(self, data: Union[str, bytes, int, float]) -> str:
        key = str(uuid.uuid4())
        self._redis.set(key, data)
        return key

    def get(self, key: str, fn: Optional[Callable] = None):
        data = self._redis.get(key)
        if data is not None and fn is not None:
            return fn(data)
        return data

    def get_str(self, key: str) -> Optional[str]:
        return self.get(key, lambda d: d.decode("utf-8"))

    def get_int(self, key: str) -> Optional[int]:
        return self.get(key, int)


def get_page(url: str) -> str:
    """Returns the page at url, cached for 10 seconds, counting accesses."""
    r = redis.Redis(port=PORT)
    r.incr("count:{}".format(url))
    cached = r.get("cached:{}".format(url))
    if cached is not None:
        return cached.decode("utf-8")
    try:
        with urllib.request.urlopen(url) as response:
            body = response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        body = error.read().decode("utf-8")
    r.setex("cached:{}".format(url), 10, body)
    return body


def untag(tagged: str):
    """Values come JSON-tagged so that types survive the command line."""
    value = json.loads(tagged)
    kind, text = value["t"], value["v"]
    if kind == "str":
        return text
    if kind == "bytes":
        return bytes.fromhex(text)
    if kind == "int":
        return int(text)
    return float(text)


def main() -> None:
    command, args = sys.argv[2], sys.argv[3:]
    if command == "store":
        cache = Cache(flush=False)
        for tagged in args:
            print(cache.store(untag(tagged)))
    elif command == "replay":
        replay(Cache.store)
    elif command == "get_str":
        print(json.dumps(Cache(flush=False).get_str(args[0])))
    elif command == "get_int":
        print(Cache(flush=False).get_int(args[0]))
    elif command == "get_page":
        print(json.dumps(get_page(args[0])))
    elif command == "repr":
        for tagged in args:
            print(json.dumps(str((untag(tagged),))))
    else:
        sys.exit("unknown command " + command)


if __name__ == "__main__":
    main()
