"""The task log panel with a 100,000-line log: only pages are ever read, the tail
follows new lines, and a search finds a line near the start by paging."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from flamenco_gui.gui import log_panel
from tests.gui.helpers import running_window, until

LINES = 100_000


def _line(i: int) -> str:
    return f"line {i:06d} Fra:{i // 1000} | Sample {i % 128}/128 | Remaining:00:{i % 60:02d}.00"


@pytest.mark.timeout(120)
def test_a_huge_log_is_paged_followed_and_searched(qloop, qtbot, tmp_path) -> None:
    async def scenario() -> None:
        async with running_window(tmp_path, qtbot) as (manager, window):
            service = manager.service
            task = service.create_task(
                type="command",
                settings='{"argv": ["true"]}',
                priority=0,
                parser=None,
                task_id=None,
            )
            for start in range(0, LINES, 10_000):
                service.append_log(
                    task["id"], [_line(i) for i in range(start, start + 10_000)], None, None
                )
            size = service.read_log(task["id"], limit=0)[1]
            assert size > 5_000_000

            reads: list[dict] = []
            real_read = service.read_log

            def spy(task_id: int, **kwargs: int):
                data, total = real_read(task_id, **kwargs)
                reads.append({**kwargs, "bytes": len(data)})
                return data, total

            service.read_log = spy  # type: ignore[method-assign]
            panel = window.log
            await until(lambda: window.task_model.row_of(task["id"]) is not None, 2)
            window.tasks.view.select_ids([task["id"]], task["id"])
            assert panel.task_id == task["id"]

            # Only the tail is loaded, and the view sits at its end.
            text = panel.text
            assert text.blockCount() <= log_panel.TAIL_LINES + 1
            assert _line(LINES - 1) in text.toPlainText().splitlines()[-1]
            bar = text.verticalScrollBar()
            assert bar.value() == bar.maximum()
            assert panel.earlier.isEnabled()

            # New lines are followed while the view is at the bottom.
            service.append_log(task["id"], ["the very last line"], None, None)
            await until(
                lambda: text.toPlainText().rstrip().endswith("the very last line"), 2, "the tail"
            )
            await until(lambda: bar.value() == bar.maximum(), 1, "following")

            # Earlier lines come a page at a time and the lines in view stay in view.
            blocks = text.blockCount()
            panel.load_earlier()
            assert blocks < text.blockCount() < blocks + log_panel.PAGE // 40

            # A line near the start: found by paging backwards, shown in a window.
            panel.search.setText("line 000042 ")
            panel.find_in_log(backward=True)
            await until(lambda: text.textCursor().selectedText() == "line 000042 ", 10, "the match")
            assert text.blockCount() < 10_000  # a window around it, not the whole file
            # Shift+Enter in the search box looks the other way (newer lines).
            panel.search.setText("line 000043 ")
            qtbot.keyClick(panel.search, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
            assert text.textCursor().selectedText() == "line 000043 "
            assert "newer lines not shown" in panel.info.text()
            panel.jump_to_end()
            assert text.toPlainText().rstrip().endswith("the very last line")

            # Every read was a page at most: a huge log is never loaded in one go (the
            # search read most of it, a page per turn of the loop).
            assert max(r["bytes"] for r in reads) <= log_panel.PAGE + 64
            assert len(reads) > size // log_panel.PAGE

    qloop.run_until_complete(scenario())
