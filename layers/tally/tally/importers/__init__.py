"""Other tools' exports as Ground Truth payloads, so that tally's core consolidates them unchanged.

An importer reads a Label Studio JSON export (:mod:`.labelstudio`), CVAT for images 1.1 XML or COCO
instances JSON of each annotator's job (:mod:`.cvat`) into :class:`~.model.ImportedItem` objects:
one per data object, one answer per annotator whose ``content`` is what a Ground Truth crowd element
would have submitted for the same answer. :mod:`.model` turns them into the consolidation payload and
back; :mod:`.writers` writes the consolidated labels in each tool's own import format. The mask
encodings are pure functions in :mod:`.rle`; :mod:`.gold` scores an answer against a gold one.

This package belongs to the command line (``tally consolidate --from ...``): the Lambda handlers never
import it, and it is left out of the Lambda layer.
"""
