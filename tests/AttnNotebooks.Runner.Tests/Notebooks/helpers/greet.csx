string Greet(string who) => $"hello, {who}";
