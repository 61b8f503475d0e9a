using AttnNotebooks.Runner.Notebooks;

namespace AttnNotebooks.Runner.Tests.Classroom;

/// <summary>
/// The README's "For instructors" commands, run as written (in a copy of the repository's layout) on the real first
/// notebook: student, then validate on the student version, then grade two submissions.
/// </summary>
public class ClassroomReadmeTests
{
    const string Prefix = "dotnet run --project src/AttnNotebooks.Runner -- ";

    static string[][] ReadmeCommands()
    {
        var readme = File.ReadAllText(Path.Combine(RepositoryNotebooksTests.RepositoryRoot(), "README.md")).Replace("\r\n", "\n");
        var section = readme[readme.IndexOf("\n## For instructors\n", StringComparison.Ordinal)..];
        var block = section[(section.IndexOf("```sh\n", StringComparison.Ordinal) + 6)..];
        block = block[..block.IndexOf("```", StringComparison.Ordinal)];
        return block.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line =>
        {
            Assert.StartsWith(Prefix, line);
            return line[Prefix.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        }).ToArray();
    }

    [Fact]
    public void The_three_commands_take_the_first_notebook_to_a_grade_sheet()
    {
        var commands = ReadmeCommands();
        Assert.Equal(["student", "validate", "grade"], commands.Select(c => c[0]));
        var repo = RepositoryNotebooksTests.RepositoryRoot();
        var root = Directory.CreateTempSubdirectory("attn-readme-classroom-").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "notebooks"));
            Directory.CreateDirectory(Path.Combine(root, "data"));
            File.Copy(Path.Combine(repo, "notebooks", "00-start-here.ipynb"), Path.Combine(root, "notebooks", "00-start-here.ipynb"));
            File.Copy(Path.Combine(repo, "data", "papers.csv"), Path.Combine(root, "data", "papers.csv"));
            var env = new Dictionary<string, string?> { ["ATTN_DEVICE"] = "cpu" };
            (int, string) Run(string[] args) => RunnerProcess.Exec("dotnet", [RunnerProcess.Dll, .. args], env, root, TimeSpan.FromMinutes(5));

            var (code, output) = Run(commands[0]);
            Assert.True(code == 0, output);
            var studentPath = Path.Combine(root, "student", "00-start-here.ipynb");
            Assert.DoesNotContain("BEGIN SOLUTION", File.ReadAllText(studentPath));

            (code, output) = Run(commands[1]);
            Assert.True(code == 1, output);
            Assert.DoesNotContain("failed:", output); // every cell of the student version runs
            Assert.Contains("ERROR    masks.causal (causal-mask-check): 0 / 2 points", output);
            Assert.EndsWith("0 of 5 points", output.TrimEnd());

            // ada pastes the solutions in; bob hands the notebook in as he got it
            var instructor = Notebook.Load(Path.Combine(root, "notebooks", "00-start-here.ipynb"));
            var ada = Notebook.Load(studentPath);
            foreach (var id in new[] { "causal-mask", "attention" })
                ClassroomFiles.Cell(ada, id).Source = ClassroomFiles.Strip(ClassroomFiles.Cell(instructor, id).Source);
            ada.Save(Path.Combine(root, "submissions", "ada", "00-start-here.ipynb"));
            Notebook.Load(studentPath).Save(Path.Combine(root, "submissions", "bob", "00-start-here.ipynb"));

            var grade = commands[2].SelectMany(a => a.Contains('*') // the shell's glob
                ? Directory.GetFiles(Path.Combine(root, "submissions"), Path.GetFileName(a), SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray()
                : new[] { a }).ToArray();
            (code, output) = Run(grade);
            Assert.True(code == 1, output);
            Assert.EndsWith("1 passed, 1 failed", output.TrimEnd());
            var csv = File.ReadAllText(Path.Combine(root, "grades", "grades.csv"));
            Assert.Contains("ada,total,,5,5,passed,5 / 5 points", csv);
            Assert.Contains("bob,total,,0,5,error,", csv);
            Assert.True(File.Exists(Path.Combine(root, "grades", "feedback", "ada.html")));
        }
        finally { Directory.Delete(root, true); }
    }
}
