import { Button } from "@/components/ui/button";
import { Card, CardContent, CardFooter, CardHeader, CardTitle } from "@/components/ui/card";
import { Progress } from "@/components/ui/progress";
import { Vote } from "lucide-react";

export default function Poll() {
  const options = props.options || {};
  const total = Object.values(options).reduce((sum, n) => sum + n, 0);

  const vote = (name) =>
    updateElement({ ...props, options: { ...options, [name]: (options[name] ?? 0) + 1 } });

  return (
    <Card className="max-w-md">
      <CardHeader>
        <CardTitle>{props.question}</CardTitle>
      </CardHeader>
      <CardContent className="flex flex-col gap-3">
        {Object.entries(options).map(([name, count]) => (
          <div key={name} className="flex items-center gap-2">
            <Button variant="outline" size="sm" onClick={() => vote(name)}>
              <Vote /> {name}
            </Button>
            <Progress value={total ? (100 * count) / total : 0} aria-label={name} />
            <span className="text-sm text-muted-foreground">{count}</span>
          </div>
        ))}
      </CardContent>
      <CardFooter>
        <Button onClick={() => callAction({ name: "close_poll", payload: { options } })}>
          Close the poll
        </Button>
      </CardFooter>
    </Card>
  );
}
