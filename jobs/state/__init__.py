"""Durable state: runs, stage results, KPIs, work queues and declined updates, in one SQLite file."""

from jobs.state.store import StateStore

__all__ = ["StateStore"]
