# VM tests of socket outsourcing
