"""The build step that puts the top-level presets/ and resources/icons/ into the package.

pyproject.toml names BuildPy as setuptools' build_py command. The checkout keeps the two folders
at the top level; the wheel (and the sdist) carries them as package data, designer/presets and
designer/resources/icons, where designer.assets finds them through importlib.resources.

The packages themselves are still found (packages.find in pyproject.toml), so a new package under
designer/ needs no entry anywhere. Only setuptools imports this module, while it builds.
"""

from __future__ import annotations

from setuptools.command.build_py import build_py

# package in the wheel -> its folder in the checkout (which files: [tool.setuptools.package-data])
DATA_PACKAGES = {"designer.presets": "presets", "designer.resources.icons": "resources/icons"}


class BuildPy(build_py):
    """build_py with the data-only packages added: their package data is copied, their Python
    files (the presets' generator scripts) are not."""

    def finalize_options(self) -> None:
        super().finalize_options()
        # a new list: self.packages is the distribution's own, which the editable install reads
        self.packages = [*(self.packages or []),
                         *(p for p in DATA_PACKAGES if p not in (self.packages or []))]
        self.package_dir.update(DATA_PACKAGES)

    def find_package_modules(self, package: str, package_dir: str) -> list:
        if package in DATA_PACKAGES:
            return []
        return super().find_package_modules(package, package_dir)
