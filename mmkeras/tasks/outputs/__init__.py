"""Output heads with their losses, metrics and serving columns."""

from mmkeras.tasks.outputs.heads import HEADS, Head, register_head
