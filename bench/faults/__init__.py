"""The fault suite (`make faults`, `python -m bench.faults`): Rheo's real processes, each
in a process group of its own, on a PostgreSQL cluster and a Redis server of the suite's
own, killed and starved one at a time while batches of items are pushed. What it measures
and how is in bench/README.md ("Fault suite").

- servers.py: the suite's own PostgreSQL cluster and Redis server (restartable).
- system.py: the Procfile's processes, the local image host and webhook receiver, the
  partner the suite pushes as.
- measure.py: pushing a batch at a steady pace, watching it reach its final state, the
  figures of one scenario and their verdict.
- scenarios.py: the nine scenarios.
"""
