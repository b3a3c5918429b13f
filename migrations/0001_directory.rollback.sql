-- A rollback removes what its migration added: a deliberate operator step:
-- squawk-ignore-file ban-drop-table, ban-drop-function
DROP TABLE shifts;
DROP TABLE doctors;
DROP TABLE hospital_info;
DROP TABLE departments;
