-- The bookshop's starting catalogue: authors, books, tags, a category tree and customers.
INSERT INTO authors (name, email, born) VALUES
    ('Ursula K. Le Guin', 'ursula@example.com', '1929-10-21'),
    ('Carl Sagan', 'carl@example.com', '1934-11-09'),
    ('Mary Beard', 'mary@example.com', '1955-01-01'),
    ('Ted Chiang', 'ted@example.com', NULL);

INSERT INTO books (title, author_id, genre, price, tags, meta)
SELECT b.title, a.id, b.genre::genre, b.price, b.tags, b.meta::jsonb
FROM (VALUES
    ('The Dispossessed', 'ursula@example.com', 'fiction', 14.50, ARRAY['classic', 'utopia'], '{"isbn": "978-0061054884", "pages": 387}'),
    ('The Left Hand of Darkness', 'ursula@example.com', 'fiction', 12.00, ARRAY['classic'], '{"isbn": "978-0441478125", "pages": 304}'),
    ('Cosmos', 'carl@example.com', 'science', 18.00, ARRAY['classic', 'space'], '{"isbn": "978-0345539434", "pages": 432}'),
    ('Pale Blue Dot', 'carl@example.com', 'science', 16.00, ARRAY['space'], NULL),
    ('SPQR', 'mary@example.com', 'history', 22.00, ARRAY['rome'], '{"isbn": "978-1631492228", "extra_key": "kept"}'),
    ('Exhalation', 'ted@example.com', 'fiction', 15.00, ARRAY['stories'], NULL),
    ('Stories of Your Life', 'ted@example.com', 'fiction', 13.00, ARRAY['stories', 'draft'], NULL)
) AS b(title, email, genre, price, tags, meta)
JOIN authors a ON a.email = b.email;

INSERT INTO tags (name) VALUES ('classic'), ('space'), ('stories'), ('rome');

INSERT INTO book_tags (book_id, tag_id)
SELECT b.id, t.id FROM books b JOIN tags t ON t.name = ANY (b.tags);

WITH root AS (INSERT INTO categories (name) VALUES ('Books') RETURNING id),
     fiction AS (INSERT INTO categories (name, parent_id) SELECT 'Fiction', id FROM root RETURNING id),
     nonfiction AS (INSERT INTO categories (name, parent_id) SELECT 'Non-fiction', id FROM root RETURNING id),
     scifi AS (INSERT INTO categories (name, parent_id) SELECT 'Science fiction', id FROM fiction RETURNING id)
INSERT INTO categories (name, parent_id)
SELECT 'Popular science', id FROM nonfiction
UNION ALL SELECT 'History', id FROM nonfiction
UNION ALL SELECT 'Short stories', id FROM scifi;

INSERT INTO customers (name, email, credit, version) VALUES
    ('Ada', 'ada@example.com', 100.00, 0),
    ('Grace', 'grace@example.com', 50.00, 0);
