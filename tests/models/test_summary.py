"""Model summaries: the per-block parameter table adds up to the model (FLOPs: tests/tools/test_bench.py)."""

import torch

from featherface.models import create_model
from featherface.models.summary import parameter_table


def test_parameter_table_sums_to_total():
    torch.manual_seed(0)
    v2 = create_model("featherface-v2-ultra").eval()
    rows = parameter_table(v2)
    assert sum(r.params for r in rows) == sum(p.numel() for p in v2.parameters())
    assert {r.group for r in rows} >= {"backbone", "backbone_cbam", "bifpn", "bifpn_cbam", "techniques", "ssh", "heads"}
    assert next(r for r in rows if r.group == "backbone").params == 213_072
