"""OTLP/JSON lines (the Collector's file format) built straight from SDK objects.

The file sink calls this for every record on its own thread, so it writes the JSON text itself:
no protobuf messages (`json_format` costs several times more per span), and no nested dicts for
json.dumps to walk (with OTLP's verbose nesting, that walk was most of the cost).

The text flows one way, values -> records -> lines, and no module imports one further along:

- `values`: attributes and AnyValues, and the caches of what recurs from record to record;
- `records`: one span, log record or metric (and its points) as a self-contained fragment;
- `lines`: fragments grouped by resource and scope and packed under the Collector's line limit,
  and the public functions;
- `shrink`: what `lines` does to the rare record too big for its line (it needs only `values`).
"""

from aiw_otel.exporters.otlp_json.lines import MAX_LINE_BYTES, OnSkipped, encode_logs, encode_metrics, encode_spans

__all__ = ["MAX_LINE_BYTES", "OnSkipped", "encode_logs", "encode_metrics", "encode_spans"]
