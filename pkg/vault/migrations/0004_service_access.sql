-- 0004: service tokens, grants, access requests, stubs (issue 5).
SELECT 1;
