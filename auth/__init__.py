"""Accounts, roles and passwords: who may sign in and what each role may do.

:mod:`auth.roles` holds the permission matrix (docs/contract.md "HTTP"), :mod:`auth.passwords`
the hashing and the password rules, :mod:`auth.accounts` the use cases the command line and
the web app call (add, change, disable, sign in). All database access goes through :mod:`store`.
"""
