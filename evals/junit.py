"""JUnit XML for CI systems (GitHub, GitLab, Jenkins read it): one test case per checked thing, grouped in suites.

The schema is the common subset those readers share: <testsuites> of <testsuite name tests failures skipped>, each
<testcase classname name time> with at most one <failure message> or <skipped message>, and <system-out>."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from citewise.core.errors import CitewiseError

# XML 1.0 cannot hold most control characters, even escaped; a quote from a file may contain them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


@dataclass
class JUnitCase:
    suite: str
    name: str
    status: Literal["pass", "fail", "skip"] = "pass"
    message: str = ""  # why it failed or was skipped, one line
    output: str = ""  # what was found, for <system-out>
    seconds: float = 0.0
    properties: dict[str, Any] = field(default_factory=dict)


def _clean(text: Any) -> str:
    if isinstance(text, bool):
        return "true" if text else "false"
    return _NOT_XML.sub("\ufffd", str(text))


def junit_xml(title: str, cases: list[JUnitCase]) -> bytes:
    root = ET.Element("testsuites", name=_clean(title), tests=str(len(cases)),
                      failures=str(sum(c.status == "fail" for c in cases)),
                      skipped=str(sum(c.status == "skip" for c in cases)),
                      time=f"{sum(c.seconds for c in cases):.3f}")
    for suite in dict.fromkeys(case.suite for case in cases):
        members = [case for case in cases if case.suite == suite]
        element = ET.SubElement(root, "testsuite", name=_clean(suite), tests=str(len(members)),
                                failures=str(sum(c.status == "fail" for c in members)), errors="0",
                                skipped=str(sum(c.status == "skip" for c in members)),
                                time=f"{sum(c.seconds for c in members):.3f}")
        for case in members:
            item = ET.SubElement(element, "testcase", classname=_clean(suite), name=_clean(case.name),
                                 time=f"{case.seconds:.3f}")
            known = {key: value for key, value in case.properties.items() if value is not None}
            if known:
                properties = ET.SubElement(item, "properties")
                for key, value in known.items():
                    ET.SubElement(properties, "property", name=_clean(key), value=_clean(value))
            if case.status == "fail":
                failure = ET.SubElement(item, "failure", message=_clean(case.message), type="failure")
                failure.text = _clean(case.output or case.message)
            elif case.status == "skip":
                ET.SubElement(item, "skipped", message=_clean(case.message))
            if case.output:
                ET.SubElement(item, "system-out").text = _clean(case.output)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def write_junit(path: Path, title: str, cases: list[JUnitCase]) -> Path:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(junit_xml(title, cases))
    except OSError as exc:
        raise CitewiseError(f"cannot write the JUnit report {path}: {exc.strerror or exc}") from exc
    return path
