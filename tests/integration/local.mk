# integration tests (process guests against hostrpcd)
