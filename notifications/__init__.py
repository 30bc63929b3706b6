"""Reaching the people (issue: notifications, on-duty rota, escalation).

Pure code, tested directly:

- :mod:`notifications.messages` — what a notification says, and how each channel writes it
  (e-mail, signed JSON webhook, WeCom, DingTalk, Feishu robots, SMS gateway), in the
  recipient's language;
- :mod:`notifications.signing` — the signatures each webhook kind needs, and the check a
  receiver of our own webhook runs;
- :mod:`notifications.rota` — the on-duty rota (值班表): who holds a duty role when;
- :mod:`notifications.escalation` — not acknowledged in time → the next step;
- :mod:`notifications.storms` — an alarm storm becomes one message per recipient that says how
  many, and per-recipient rate limits.

I/O at the edge: :mod:`notifications.channels` delivers a written message over SMTP or HTTP to
the servers the city configured, and nothing else; :mod:`notifications.worker` is the process
(`cityops notify run`) that reads the database, raises, sends and escalates.
"""
