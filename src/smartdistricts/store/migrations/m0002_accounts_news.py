"""Accounts, sessions, audit log, news articles and media.

* ``users`` — editors' and administrators' accounts; ``password_hash`` is an argon2id hash.
* ``sessions`` — a signed-in browser: only the SHA-256 of the cookie's random token is stored,
  so a copy of the database does not let anyone sign in.
* ``audit_log`` (from the initial schema) gains ``user_id``: which account did it.
* ``media`` — uploaded photos, re-encoded, under random file names in the media folder.
* ``articles`` — news in Polish or English; ``published_at`` NULL is a draft (or withdrawn), a
  future time is scheduled. ``body_html`` is the sanitised rendering of ``body_md``.
* ``article_tags`` — tags of an article, one row each.
"""

from __future__ import annotations

NAME = "accounts, sessions, audit log, news articles and media"

STATEMENTS: list[str] = [
    """
    CREATE TABLE users (
        id {pk},
        name TEXT NOT NULL UNIQUE,
        display_name TEXT NOT NULL,
        role TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        active {smallint} NOT NULL DEFAULT 1,
        created_at {bigint} NOT NULL DEFAULT ({now}),
        password_changed_at {bigint} NOT NULL DEFAULT ({now}),
        last_login_at {bigint},
        CHECK (role IN ('admin', 'editor'))
    )
    """,
    """
    CREATE TABLE sessions (
        id {pk},
        token_hash TEXT NOT NULL UNIQUE,
        user_id {bigint} NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        created_at {bigint} NOT NULL DEFAULT ({now}),
        expires_at {bigint} NOT NULL,
        address TEXT
    )
    """,
    "CREATE INDEX sessions_user ON sessions(user_id)",
    "ALTER TABLE audit_log ADD COLUMN user_id {bigint}",
    "CREATE INDEX audit_log_time ON audit_log(time)",
    """
    CREATE TABLE media (
        id {pk},
        file_name TEXT NOT NULL UNIQUE,
        thumb_name TEXT NOT NULL UNIQUE,
        content_type TEXT NOT NULL,
        width {bigint} NOT NULL,
        height {bigint} NOT NULL,
        bytes {bigint} NOT NULL,
        original_name TEXT,
        uploaded_by {bigint} REFERENCES users(id),
        created_at {bigint} NOT NULL DEFAULT ({now})
    )
    """,
    """
    CREATE TABLE articles (
        id {pk},
        slug TEXT NOT NULL,
        lang TEXT NOT NULL,
        title TEXT NOT NULL,
        lead TEXT NOT NULL DEFAULT '',
        body_md TEXT NOT NULL DEFAULT '',
        body_html TEXT NOT NULL DEFAULT '',
        photo_id {bigint} REFERENCES media(id),
        photo_alt TEXT NOT NULL DEFAULT '',
        credit TEXT NOT NULL DEFAULT '',
        author TEXT NOT NULL DEFAULT '',
        author_id {bigint} REFERENCES users(id),
        published_at {bigint},
        created_at {bigint} NOT NULL DEFAULT ({now}),
        updated_at {bigint} NOT NULL DEFAULT ({now}),
        UNIQUE (lang, slug),
        CHECK (lang IN ('pl', 'en'))
    )
    """,
    "CREATE INDEX articles_published ON articles(lang, published_at)",
    """
    CREATE TABLE article_tags (
        article_id {bigint} NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
        tag TEXT NOT NULL,
        PRIMARY KEY (article_id, tag)
    )
    """,
    "CREATE INDEX article_tags_tag ON article_tags(tag)",
]
