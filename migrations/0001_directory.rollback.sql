DROP TABLE shifts;
DROP TABLE doctors;
DROP TABLE hospital_info;
DROP TABLE departments;
