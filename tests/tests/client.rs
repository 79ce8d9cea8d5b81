//! The GraphQL operations a frontend uses for the seeds' flows
//! (`tests/client/operations`): each is valid against the schema, and the
//! TypeScript a frontend team writes with them compiles under graphql-codegen
//! and `tsc --strict`, while files with planted mistakes do not.
#![recursion_limit = "256"]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use foldline_graphql::{schema, Limits};

fn client() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("client")
}

/// Every `(file, operation name, document)` in the operations folder.
fn operations() -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    let folder = client().join("operations");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap_or_else(|error| panic!("{}: {error}", folder.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "graphql"))
        .collect();
    files.sort();
    for file in files {
        let document = std::fs::read_to_string(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for line in document.lines() {
            let Some(rest) = ["query ", "mutation ", "subscription "]
                .iter()
                .find_map(|keyword| line.strip_prefix(keyword))
            else {
                continue;
            };
            let operation: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.push((name.clone(), operation, document.clone()));
        }
    }
    found
}

#[tokio::test]
async fn every_client_operation_is_valid_against_the_schema() {
    let schema = schema(Limits::default());
    let operations = operations();
    assert!(operations.len() >= 30, "{} operations", operations.len());
    for (file, operation, document) in operations {
        let request = async_graphql::Request::new(document).operation_name(&operation);
        let response = schema.execute(request).await;
        // Run with neither variables nor a caller, a valid operation gets
        // only that far; an invalid one is refused by validation first.
        for error in &response.errors {
            let message = &error.message;
            let got_past_validation = (message.starts_with("Variable ")
                && message.ends_with(" is not defined."))
                || message == "no authenticated request";
            assert!(got_past_validation, "{file} {operation}: {message}");
        }
    }
}

fn run(command: &mut Command) -> Output {
    let shown = format!("{command:?}");
    command
        .current_dir(client())
        .output()
        .unwrap_or_else(|error| panic!("{shown}: {error}"))
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `npm ci` unless `node_modules` already holds what the lock file says.
fn install() {
    let present = Command::new("npm").arg("--version").output();
    assert!(
        present.is_ok_and(|output| output.status.success()),
        "the TypeScript client check needs Node.js 20 or later and npm on the PATH \
         (apt-get install nodejs npm; .ci/run installs them when missing)"
    );
    let modified = |path: PathBuf| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let lock = modified(client().join("package-lock.json"));
    let installed = modified(client().join("node_modules/.package-lock.json"));
    if installed.is_none() || installed < lock {
        let output = run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]));
        assert!(output.status.success(), "npm ci failed:\n{}", text(&output));
    }
}

#[test]
fn the_typescript_client_compiles_and_planted_mistakes_do_not() {
    install();
    let output = run(Command::new("npx").args([
        "--no-install",
        "graphql-codegen",
        "--config",
        "codegen.ts",
    ]));
    assert!(
        output.status.success(),
        "graphql-codegen failed:\n{}",
        text(&output)
    );
    let output = run(Command::new("npx").args(["--no-install", "tsc", "-p", "tsconfig.json"]));
    assert!(
        output.status.success(),
        "the client does not compile:\n{}",
        text(&output)
    );

    let mut mistakes: Vec<PathBuf> = std::fs::read_dir(client().join("mistakes"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    mistakes.sort();
    assert!(mistakes.len() >= 4, "{mistakes:?}");
    for mistake in mistakes {
        let source = std::fs::read_to_string(&mistake).unwrap();
        let expected = source
            .lines()
            .next()
            .and_then(|line| line.strip_prefix("// expect: "))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("{}: first line `// expect: TS…`", mistake.display()));
        let output = run(Command::new("npx")
            .args([
                "--no-install",
                "tsc",
                "--noEmit",
                "--strict",
                "--target",
                "ES2022",
                "--module",
                "ESNext",
                "--moduleResolution",
                "Bundler",
                "--skipLibCheck",
                "--verbatimModuleSyntax",
            ])
            .arg(&mistake));
        let printed = text(&output);
        assert!(!output.status.success(), "{} compiled", mistake.display());
        assert!(
            printed.contains(&format!("error {expected}")),
            "{}: expected {expected}, got:\n{printed}",
            mistake.display()
        );
    }
}
