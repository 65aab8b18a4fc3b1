
s.protop"
M
x (B