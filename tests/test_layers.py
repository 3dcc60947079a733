"""The package layers: utils at the bottom; datasets, models, evaluation,
visualization on utils; engine on those; apis on everything; tools/ above
the package (the package never imports or runs it); no module imports
another module's private (``_name``) names."""
import ast
import os.path as osp
import pathlib

ROOT = pathlib.Path(osp.dirname(osp.dirname(osp.abspath(__file__))))

#: package part -> the other parts it may import
ALLOWED = {
    'utils': set(),
    'datasets': {'utils'},
    'models': {'utils'},
    'evaluation': {'utils'},
    'visualization': {'utils'},
    'engine': {'utils', 'visualization', 'models', 'datasets', 'evaluation'},
    'apis': {
        'utils', 'visualization', 'models', 'datasets', 'evaluation', 'engine'
    },
}


def _imports(path):
    """(line, imported module, names) of every import of a file, relative
    imports resolved."""
    parts = path.relative_to(ROOT).with_suffix('').parts
    package = parts[:-1] if parts[-1] != '__init__' else parts[:-1]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(package[:len(package) - node.level + 1])
                mod = '.'.join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ''
            yield node.lineno, mod, [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name, []


def _part(module):
    bits = module.split('.')
    if bits[0] == 'tools':
        return 'tools'
    return bits[1] if bits[0] == 'mmwsss' and len(bits) > 1 else None


def test_no_upward_or_private_imports():
    bad = []
    files = sorted((ROOT / 'mmwsss').rglob('*.py')) + sorted(
        (ROOT / 'tools').rglob('*.py'))
    for path in files:
        rel = path.relative_to(ROOT)
        own = rel.parts[1] if rel.parts[0] == 'mmwsss' and len(
            rel.parts) > 2 else None
        for line, mod, names in _imports(path):
            target = _part(mod)
            if rel.parts[0] == 'mmwsss':
                if target == 'tools':
                    bad.append(f'{rel}:{line} imports {mod} (tools)')
                elif own in ALLOWED and target not in (None, own) and \
                        target not in ALLOWED[own]:
                    bad.append(f'{rel}:{line} imports {mod} (upward)')
            if mod.startswith(('mmwsss', 'tools')):
                for n in names:
                    if n.startswith('_') and not n.startswith('__'):
                        bad.append(f'{rel}:{line} imports private {n}')
    assert not bad, '\n'.join(bad)


def test_the_package_runs_no_command():
    """The package never runs tools/ scripts (or any command): no
    subprocess, os.system or os.exec* in mmwsss/."""
    for path in sorted((ROOT / 'mmwsss').rglob('*.py')):
        text = path.read_text()
        for call in ('subprocess', 'os.system(', 'os.exec', 'os.popen('):
            assert call not in text, f'{path}: {call}'
