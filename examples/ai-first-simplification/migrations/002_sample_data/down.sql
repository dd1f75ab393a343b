-- Removes the sample: the six sample users, and with them (ON DELETE CASCADE) every row that
-- hangs off them. Rows of any other user are left alone.
DELETE FROM users WHERE id IN (
  '5a3e0000-0000-4000-8000-000000000001', '5a3e0000-0000-4000-8000-000000000002',
  '5a3e0000-0000-4000-8000-000000000003', '5a3e0000-0000-4000-8000-000000000004',
  '5a3e0000-0000-4000-8000-000000000005', '5a3e0000-0000-4000-8000-000000000006');
