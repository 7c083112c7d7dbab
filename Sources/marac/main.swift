print("marac")
