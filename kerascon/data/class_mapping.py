"""Labels by class name: a source's labels renumbered onto another list of class names.

A model's classifier numbers the classes it was trained on; data evaluated with it may hold
some of them, in another order (a folder with only ``8/`` and ``9/`` numbers them 0 and 1).
:func:`map_class_names` relabels such a source by name, inside its ``tf.data`` pipeline.

Example:
    >>> from kerascon.data import from_image_folder
    >>> source = from_image_folder("eights_and_nines/")          # classes ('8', '9')
    >>> mapped = map_class_names(source, [str(d) for d in range(10)])
    >>> mapped.class_names[8], mapped.num_classes                # labels are now 8 and 9
    ('8', 10)
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from kerascon.data.sources import DataSource
from kerascon.errors import DataError

__all__ = ["map_class_names"]


def _listed(names, limit: int = 10) -> str:
    shown = ", ".join(str(name) for name in names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def map_class_names(source: DataSource, class_names, *, owner: str = "the model's") -> DataSource:
    """``source`` with its labels renumbered to their index in ``class_names``.

    Every class of ``source`` must be one of ``class_names`` (a subset is fine); the result
    has ``class_names`` and their count as its classes, the same examples and images. A
    source whose classes are exactly ``class_names`` is returned unchanged. ``owner`` says
    whose classes they are, in the error (``"the run's"``).

    Raises:
        DataError: a class of ``source`` is not in ``class_names`` (the first one is named,
            with the classes there are).
    """
    class_names = tuple(str(name) for name in class_names)
    if tuple(source.class_names) == class_names:
        return source
    index = {name: i for i, name in enumerate(class_names)}
    unknown = [name for name in source.class_names if name not in index]
    if unknown:
        more = f" (and {len(unknown) - 1} more unknown)" if len(unknown) > 1 else ""
        raise DataError(f"class {unknown[0]!r} of {source.name!r} is not one of {owner} "
                        f"{len(class_names)} classes ({_listed(class_names)}){more}; evaluate "
                        "on data whose class names are among those")
    table = tf.constant([index[name] for name in source.class_names], tf.int32)

    def relabel(image, label):
        return image, tf.gather(table, label)

    load = source._load
    mapped_load = None if load is None else (lambda *key: relabel(*load(*key)))
    return dataclasses.replace(
        source, dataset=source.dataset.map(relabel, num_parallel_calls=tf.data.AUTOTUNE,
                                           deterministic=True),
        num_classes=len(class_names), class_names=class_names, _load=mapped_load)
