"""Where the code location's runs keep what they write (reports, generated code): a local
directory by default, or object storage by URL through fsspec (`s3://bucket/prefix`,
`gs://...`, `az://...`, `file:///...`; `memory://...` for tests, gone with the process), so the
files outlive the run's pod. Any other URL (http, ftp, a relative `file://`), or one whose
package is not installed, is refused when the store is made (settings.WRITABLE_STORES)."""

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from upath import UPath

from orchestration_utils.errors import ProjectError
from orchestration_utils.settings import check_url_scheme


def is_url(location: str) -> bool:
    return "://" in location


def _relative(name: str) -> PurePosixPath:
    """A name inside the store: relative, without `..`, so op config cannot write elsewhere."""
    path = PurePosixPath(name)
    if not name or path.is_absolute() or ".." in path.parts:
        raise ProjectError("artifacts", f"{name!r}: expected a relative name inside the store")
    return path


@dataclass(frozen=True)
class ArtifactStore:
    location: str  # a local directory, or an fsspec URL

    def __post_init__(self) -> None:
        # The resource's url may come from run config, not only the checked setting.
        if is_url(self.location):
            check_url_scheme(self.location, "artifacts")

    def target(self, name: str) -> Path | UPath:
        relative = _relative(name)
        return (UPath(self.location) if is_url(self.location) else Path(self.location)) / relative

    def write(self, name: str, data: bytes) -> str:
        """The whole file or none: locally the CLI's atomic replace; an object store's put is
        whole by nature. Returns where it went."""
        target = self.target(name)
        if isinstance(target, UPath):
            target.parent.mkdir(parents=True, exist_ok=True)  # file:// and memory:// need it
            target.write_bytes(data)
        else:
            from orchestration_utils.files import write_atomic

            write_atomic(target, data)
        return str(target)

    def read(self, name: str) -> bytes:
        return self.target(name).read_bytes()

    def mirror(self, local_dir: Path, name: str) -> list[str]:
        """`local_dir`'s files under `name`, and no others there: a generated file that the
        generator removed locally is removed from the store too. Returns the names written."""
        root = self.target(name)
        files = sorted(p for p in local_dir.rglob("*") if p.is_file())
        wanted = {p.relative_to(local_dir).as_posix() for p in files}
        for path in files:
            self.write(f"{name}/{path.relative_to(local_dir).as_posix()}", path.read_bytes())
        if root.exists():
            for existing in root.rglob("*"):
                # By its string: each kind of path takes one, with the root's storage options.
                if existing.is_file() and existing.relative_to(str(root)).as_posix() not in wanted:
                    existing.unlink()
        return sorted(wanted)
