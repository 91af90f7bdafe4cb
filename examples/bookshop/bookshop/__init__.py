"""The bookshop example app: authors, books, tags, customers and orders."""
