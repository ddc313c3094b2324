from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from jobs.db.tsql import Batch, split_batches


def test_go_splits_batches_in_any_case_with_repeat_counts():
    script = "SELECT 1\nGO\nselect 2\ngo 3\nSELECT 3\n   Go   -- trailing comment\nSELECT 4"
    assert split_batches(script) == [
        Batch("SELECT 1", 1, 1),
        Batch("select 2", 3, 3),
        Batch("SELECT 3", 1, 5),
        Batch("SELECT 4", 1, 7),
    ]


def test_go_inside_a_block_comment_or_a_string_is_text():
    script = "SELECT 1 /*\nGO\n*/\nGO\nSELECT 'a\nGO\nb'\nGO"
    batches = split_batches(script)
    assert [batch.text for batch in batches] == ["SELECT 1 /*\nGO\n*/", "SELECT 'a\nGO\nb'"]


def test_go_must_stand_alone_on_its_line():
    assert len(split_batches("SELECT 1 GO\nSELECT 2\nGOTO label\nGO")) == 1


def test_escaped_quotes_and_nested_comments_do_not_confuse_it():
    script = "SELECT 'it''s'\nGO\n/* a /* nested */ still comment\nGO\n*/ SELECT 2\nGO"
    assert [batch.text for batch in split_batches(script)] == [
        "SELECT 'it''s'",
        "/* a /* nested */ still comment\nGO\n*/ SELECT 2",
    ]


def test_empty_batches_are_dropped():
    assert split_batches("GO\n\nGO\n") == []


statement = st.text(
    alphabet=st.sampled_from("abcdefSELECT 0123456789(),;@"), min_size=1, max_size=30
).filter(
    lambda text: (
        text.strip() and text.strip().upper() != "GO" and not text.strip().upper().startswith("GO ")
    )
)


@given(
    st.lists(
        st.tuples(
            statement,
            st.integers(min_value=1, max_value=9),
            st.sampled_from(["GO", "go", "Go", " GO "]),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_splitting_joined_batches_gives_them_back(parts):
    script = "\n".join(
        f"{text}\n{word}{'' if count == 1 else f' {count}'}" for text, count, word in parts
    )
    batches = split_batches(script)
    assert [(batch.text, batch.repeat) for batch in batches] == [
        (text.strip(), count) for text, count, _ in parts
    ]


def test_markers_in_strings_comments_and_bracketed_names_are_text():
    from jobs.db.tsql import count_markers, number_markers

    text = "SELECT ? , '?', N'it''s ?', [odd?name] -- ?\n/* ? /* ? */ ? */ FROM t WHERE x = ?"
    assert count_markers(text) == 2
    numbered, count = number_markers(text)
    assert count == 2 and numbered.startswith("SELECT @p1 ,") and numbered.endswith("x = @p2")
    assert "'?'" in numbered and "[odd?name]" in numbered


def test_statements_split_at_semicolons_outside_strings_and_comments():
    from jobs.db.tsql import split_statements, strip_comments

    text = "SET NOCOUNT ON; -- a; comment\nSELECT 'a;b' /* c; */ ;\n\n;EXEC p"
    assert split_statements(text) == ("SET NOCOUNT ON", "SELECT 'a;b'", "EXEC p")
    assert "comment" not in strip_comments(text) and "'a;b'" in strip_comments(text)


def test_a_nested_block_comment_ends_where_sql_server_ends_it():
    from jobs.db.tsql import strip_comments

    assert strip_comments("a /* 1 /* 2 */ 3 */ b").split() == ["a", "b"]
