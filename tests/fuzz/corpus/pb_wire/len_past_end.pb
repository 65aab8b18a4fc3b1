
2abc