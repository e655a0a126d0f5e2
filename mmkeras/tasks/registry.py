"""`task_for`: the `Task` of a spec, found by name in `TASKS`."""

from mmkeras.registry import Registry
from mmkeras.tasks.base import Task
from mmkeras.tasks.outputs.task import OutputsTask
from mmkeras.tasks.retrieval.task import RetrievalTask

TASKS = Registry("task")
TASKS.register("outputs")(OutputsTask)
TASKS.register("retrieval")(RetrievalTask)

__all__ = ["TASKS", "Task", "OutputsTask", "RetrievalTask", "task_for"]


def task_for(spec):
    """The task of a spec: `OutputsTask` without a `task` section, else the one named by `task.type`.

    Args:
        spec: a loaded Spec.

    Returns:
        A `Task` bound to `spec`.

    Example:

    >>> task_for(spec).name
    'outputs'
    """
    return TASKS.get("outputs" if spec.task is None else spec.task.type)(spec)
