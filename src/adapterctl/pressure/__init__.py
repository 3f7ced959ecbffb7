"""The staging pressure gate's machinery: the request schedule, its replay, the statistics.

``schedule`` turns a profile into requests, ``rounds`` lays them out candidate and baseline
(A-B-B-A), ``load`` replays a round against a node, ``stats`` summarises the samples;
``pipeline`` ties them to the registry, and ``evidence`` keeps what was seen.
"""
