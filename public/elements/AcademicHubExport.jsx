import { Button } from "@/components/ui/button";
import { Download } from "lucide-react";

// One-click downloads of an answer or briefing (Markdown, BibTeX). The files are built by the server
// (assistant/ui/chat_view.py: export_files) and handed over as props; the browser saves them from memory,
// so nothing is fetched and no second message or file chip appears. Text is never rendered as markup.
export default function AcademicHubExport() {
  const files = Array.isArray(props.files) ? props.files : [];

  function save(file) {
    const blob = new Blob([file.content], { type: `${file.mime};charset=utf-8` });
    const url = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = url;
    link.download = file.name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  return (
    <div className="flex flex-wrap gap-2 items-center" aria-label="Export">
      {files.map((file) => (
        <Button
          key={file.name}
          variant="outline"
          size="sm"
          title={`Download ${file.name}`}
          onClick={() => save(file)}
        >
          <Download className="h-4 w-4 mr-1" />
          {file.label}
        </Button>
      ))}
    </div>
  );
}
