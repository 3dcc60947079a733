#!/usr/bin/env python
"""Install mmwsss (OpenMMLab style: requirements read from requirements/)."""
import os.path as osp
import re

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def get_version():
    with open(osp.join(HERE, 'mmwsss', 'version.py')) as f:
        return re.search(r"__version__ = '([^']+)'", f.read()).group(1)


def parse_requirements(fname):
    """Requirement lines of a file, following ``-r`` includes."""
    reqs = []
    with open(osp.join(HERE, fname)) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if not line:
                continue
            if line.startswith('-r '):
                reqs += parse_requirements(
                    osp.join(osp.dirname(fname), line[3:].strip()))
            else:
                reqs.append(line)
    return reqs


if __name__ == '__main__':
    setup(
        name='mmwsss',
        version=get_version(),
        description='Weakly-supervised semantic segmentation toolbox '
        'on OpenMMLab',
        long_description=open(osp.join(HERE, 'README.md')).read(),
        long_description_content_type='text/markdown',
        keywords='weakly-supervised semantic segmentation, CAM, openmmlab',
        packages=find_packages(exclude=('configs', 'tools', 'tests',
                                        'benchmarks')),
        include_package_data=True,
        python_requires='>=3.8',
        license='Apache License 2.0',
        install_requires=parse_requirements('requirements/runtime.txt') +
        parse_requirements('requirements/mminstall.txt'),
        extras_require=dict(
            tests=parse_requirements('requirements/tests.txt'),
            optional=parse_requirements('requirements/optional.txt'),
            torch=parse_requirements('requirements/torch.txt')),
        zip_safe=False)
