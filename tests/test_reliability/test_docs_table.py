"""``docs/reliability.md``: at least 20 rows, and every test a row links to
exists (a renamed or deleted test breaks the table, not silently)."""
import ast
import os.path as osp
import re

from repo_commands import ROOT

DOC = osp.join(ROOT, 'docs', 'reliability.md')
LINK = re.compile(r'\[([^\]]+)\]\(\.\./(tests/[^)]+\.py)\)')


def _rows():
    with open(DOC) as f:
        return [
            line for line in f
            if re.match(r'\| \d+ \|', line)
        ]


def _test_names(path):
    with open(osp.join(ROOT, path)) as f:
        tree = ast.parse(f.read())
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.name.startswith('test')
    }


def test_table_has_20_numbered_rows_each_linked_to_a_test():
    rows = _rows()
    assert len(rows) >= 20, len(rows)
    numbers = [int(r.split('|')[1]) for r in rows]
    assert numbers == list(range(1, len(rows) + 1)), numbers
    for row in rows:
        assert LINK.search(row), f'row without a test link: {row}'


def test_every_linked_test_exists():
    missing = []
    for row in _rows():
        for name, path in LINK.findall(row):
            assert osp.isfile(osp.join(ROOT, path)), path
            if name.startswith('test_') and not name.endswith('.py'):
                if name not in _test_names(path):
                    missing.append(f'{path}::{name}')
    assert not missing, missing
