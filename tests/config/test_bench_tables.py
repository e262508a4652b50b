"""The README benchmark tables: generated from the committed results, never typed by hand."""

from __future__ import annotations

import json
import re

import bench_tables
import pytest


class TestBenchTables:
    def test_the_readme_tables_match_the_committed_results(self):
        """Every bench table in README.md and exporter/README.md is what the generator writes."""
        assert bench_tables.main(["--check"]) == 0

    @pytest.mark.parametrize("readme", bench_tables.READMES, ids=lambda p: p.parent.name)
    def test_each_readme_has_a_generated_table(self, readme):
        """Both READMEs carry a generated table block with at least one row."""
        text = readme.read_text()
        blocks = bench_tables.BLOCK.findall(text)
        assert blocks and all(re.search(r"^\| .+ \| .+", b[2], re.M) for b in blocks)

    def test_every_committed_row_names_its_baseline_target_and_machine(self):
        """Each committed row has a baseline name, a target, a verdict and where it was measured."""
        rows = json.loads(bench_tables.COMMITTED.read_text())["rows"]
        assert rows
        for row in rows:
            assert row["baseline_name"] and row["target"].startswith("≤"), row["case"]
            assert row["result"] in ("pass", "FAIL") and row["machine"]["cpu"], row["case"]

    def test_a_stale_table_is_reported(self, tmp_path):
        """Changing a figure in the results makes the rendered table differ (the check can fail)."""
        results = json.loads(bench_tables.COMMITTED.read_text())
        text = "<!-- bench-table: all -->\n<!-- /bench-table -->\n"
        before = bench_tables.render(text, results)
        results["rows"][0]["ours"] *= 2
        assert bench_tables.render(text, results) != before
