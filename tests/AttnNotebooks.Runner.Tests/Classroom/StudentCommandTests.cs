using System.Text.Json.Nodes;
using AttnNotebooks.Runner.Classroom;
using AttnNotebooks.Runner.Notebooks;

namespace AttnNotebooks.Runner.Tests.Classroom;

/// <summary>The student command, and the reading of nbgrader markers and metadata it rests on.</summary>
public class StudentCommandTests
{
    [Fact]
    public void Writes_the_student_version_stubs_no_hidden_tests_no_outputs_fingerprints()
    {
        var root = Directory.CreateTempSubdirectory("attn-student-").FullName;
        try
        {
            // an instructor notebook that was run: it has outputs, which must not reach students
            var source = Notebook.Load(ClassroomFiles.Assignment);
            foreach (var cell in source.Cells.Where(c => c.CellType == "code")) { cell.AddStream("stdout", "the answer is 42\n"); cell.ExecutionCount = 1; }
            var instructor = Path.Combine(root, "assignment.ipynb");
            source.Save(instructor);

            var (code, output) = RunnerProcess.Run(null, "student", instructor, "--out", Path.Combine(root, "student"));
            Assert.True(code == 0, output);
            Assert.Contains("(2 exercises, 5 points)", output);
            var student = Notebook.Load(Path.Combine(root, "student", "assignment.ipynb"));
            Assert.Equal(source.Cells.Count, student.Cells.Count);
            Assert.All(student.Cells.Where(c => c.CellType == "code"), c => { Assert.Empty(c.Outputs); Assert.Null(c.ExecutionCount); });

            var mask = ClassroomFiles.Cell(student, "causal-mask").Source;
            Assert.Equal("Tensor CausalMask(long queries, long keys)\n{\n    // YOUR CODE HERE\n    throw new NotImplementedException();\n}", mask);
            var check = ClassroomFiles.Cell(student, "causal-mask-check").Source;
            Assert.DoesNotContain("HIDDEN", check);
            Assert.DoesNotContain("ThrowIfFailed", check);
            Assert.Contains("Exercise.Check(\"masks.causal\", CausalMask)", check);

            var meta = ClassroomFiles.Cell(student, "causal-mask-check").Metadata;
            Assert.Equal(2, meta["nbgrader"]!["points"]!.GetValue<double>());
            Assert.True(meta["nbgrader"]!["locked"]!.GetValue<bool>());
            Assert.Equal(3, meta["nbgrader"]!["schema_version"]!.GetValue<int>());
            Assert.Equal(Nbgrader.Fingerprint(check), meta["attnkit"]!["fingerprint"]!.GetValue<string>());
            Assert.Null(ClassroomFiles.Cell(student, "causal-mask").Metadata["attnkit"]); // solution cells are the student's to change
            Assert.Equal("csharp", ClassroomFiles.Cell(student, "causal-mask").Metadata["polyglot_notebook"]!["kernelName"]!.GetValue<string>());
            Assert.Contains("the answer is 42", File.ReadAllText(instructor)); // the source is left alone
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void Refuses_broken_markers_naming_the_cell_and_line_and_writes_nothing()
    {
        var root = Directory.CreateTempSubdirectory("attn-student-").FullName;
        try
        {
            var nb = Notebook.Load(ClassroomFiles.Assignment);
            var cell = ClassroomFiles.Cell(nb, "attention");
            cell.Source = cell.Source.Replace("    // END SOLUTION\n", "");
            var path = Path.Combine(root, "broken.ipynb");
            nb.Save(path);
            var (code, output) = RunnerProcess.Run(null, "student", path, "--out", Path.Combine(root, "out"));
            Assert.Equal(2, code);
            Assert.Contains($"cell {cell.Number}, line 3: BEGIN SOLUTION is never closed", output);
            Assert.False(Directory.Exists(Path.Combine(root, "out")));

            var (same, sameOutput) = RunnerProcess.Run(null, "student", ClassroomFiles.Assignment, "--out", Path.GetDirectoryName(ClassroomFiles.Assignment)!);
            Assert.Equal(2, same);
            Assert.Contains("would overwrite the instructor's notebook", sameOutput);
        }
        finally { Directory.Delete(root, true); }
    }

    [Fact]
    public void Markers_are_replaced_at_their_indentation()
    {
        var source = "int F(int x)\n{\n    var y = x;\n    // BEGIN SOLUTION\n    return y * 2;\n    // END SOLUTION\n}";
        Assert.Equal("int F(int x)\n{\n    var y = x;\n    // YOUR CODE HERE\n    throw new NotImplementedException();\n}", Markers.ClearSolutions(source, "t"));
        Assert.Equal("a\nc", Markers.RemoveHiddenTests("a\n//BEGIN HIDDEN TESTS\nb\n  // END HIDDEN TESTS  \nc", "t"));
        Assert.Contains("line 2: END SOLUTION without a BEGIN", Assert.Throws<MarkerException>(() => Markers.ClearSolutions("x\n// END SOLUTION", "t")).Message);
        Assert.Contains("line 2: BEGIN SOLUTION inside the region opened on line 1", Assert.Throws<MarkerException>(() => Markers.ClearSolutions("// BEGIN SOLUTION\n// BEGIN SOLUTION", "t")).Message);
    }

    static Notebook WithCell(string source, JsonObject? nbgrader)
    {
        var meta = new JsonObject { ["polyglot_notebook"] = new JsonObject { ["kernelName"] = "csharp" } };
        if (nbgrader is not null) meta["nbgrader"] = nbgrader;
        var cell = new JsonObject { ["cell_type"] = "code", ["metadata"] = meta, ["outputs"] = new JsonArray(), ["source"] = source };
        return Notebook.Parse(new JsonObject { ["nbformat"] = 4, ["nbformat_minor"] = 5, ["metadata"] = new JsonObject(), ["cells"] = new JsonArray(cell) }.ToJsonString(), "t.ipynb");
    }

    static JsonObject Test(string id, double points) => new() { ["grade"] = true, ["grade_id"] = id, ["locked"] = true, ["points"] = points, ["schema_version"] = 3, ["solution"] = false };

    public static TheoryData<string, string?, string> BadAssignments => new()
    {
        { "// BEGIN SOLUTION\nx\n// END SOLUTION", null, "is not a solution cell" },
        { "var c = Exercise.Check(\"masks.causal\", M);\n// BEGIN HIDDEN TESTS\n// END HIDDEN TESTS", "solution", "is not an autograder test cell" },
        { "Console.WriteLine(1);", "test 2", "must call Exercise.Check(\"id\", ...)" },
        { "Exercise.Check(\"masks.nope\", M)", "test 2", "Exercise.Check(\"masks.nope\"): no such exercise" },
        { "Exercise.Check(\"masks.causal\", M)", "test 3", "metadata.nbgrader.points is 3, but the exercises it checks are worth 2" },
    };

    [Theory]
    [MemberData(nameof(BadAssignments))]
    public void Assignments_that_cannot_be_graded_are_refused_with_a_reason(string source, string? kind, string message)
    {
        JsonObject? meta = kind switch
        {
            null => null,
            "solution" => new JsonObject { ["grade"] = false, ["grade_id"] = "s", ["locked"] = false, ["schema_version"] = 3, ["solution"] = true },
            _ => Test("t", double.Parse(kind.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture)),
        };
        var e = Assert.ThrowsAny<ArgumentException>(() => Assignment.Read(WithCell(source, meta)));
        Assert.Contains(message, e.Message);
    }
}
