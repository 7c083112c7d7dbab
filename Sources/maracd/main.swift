print("maracd")
