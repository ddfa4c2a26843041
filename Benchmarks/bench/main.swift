// Filled in below (bus benchmark); placeholder so the package resolves.
print("bench: nothing yet")
